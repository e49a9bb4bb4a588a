"""Ranks started by torchrun (the multi-node path) run the same checks; here on one node, over loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[2]


def torchrun(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
               "-m", "impls.ddp_torchrun", "--case", "training/adam", "--dtype", "float64", *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_torchrun_ranks_conform() -> None:
    done = torchrun()
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "2 ranks (gloo): 1 checks ran, 0 failed" in done.stdout


def test_torchrun_ranks_reject_a_data_parallel_bug() -> None:
    done = torchrun("--engine", "impls.ddp_mutants:NoInitialBroadcastEngine")
    assert done.returncode != 0
    assert "FAIL training/adam [float64]" in done.stdout, done.stdout[-2000:] + done.stderr[-2000:]
