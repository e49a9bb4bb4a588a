"""Ranks started by torchrun (the multi-node path) run the same checks: on one node (`--standalone`), and across
two nodes as the README prints it (two launches, `--nnodes 2`, node ranks 0 and 1, c10d rendezvous), here both
on this machine with the rendezvous on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[2]


ENV = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1"}
CHECKS = ["-m", "mlpbench.torchrun", "--case", "training/adam", "--dtype", "float64"]
TORCHRUN = [sys.executable, "-m", "torch.distributed.run"]


def torchrun(*args: str) -> subprocess.CompletedProcess:
    command = [*TORCHRUN, "--standalone", "--nproc-per-node", "2", *CHECKS, *args]
    return subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def torchrun_two_nodes(*args: str) -> list[tuple[int, str]]:
    """The README's two commands, one a node, with HOST = 127.0.0.1: (exit code, output) of each launch."""
    endpoint = f"127.0.0.1:{free_port()}"
    launches = [
        subprocess.Popen([*TORCHRUN, "--nnodes", "2", "--nproc-per-node", "2", "--node-rank", str(node),
                          "--rdzv-backend", "c10d", "--rdzv-endpoint", endpoint, *CHECKS, *args],
                         cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for node in (0, 1)
    ]
    try:
        outputs = [launch.communicate(timeout=300)[0] for launch in launches]
        return [(launch.returncode, text) for launch, text in zip(launches, outputs)]
    finally:
        for launch in launches:
            launch.kill()
            launch.wait()


def test_torchrun_ranks_conform() -> None:
    done = torchrun()
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "2 ranks (gloo): 1 checks ran, 0 failed" in done.stdout


def test_torchrun_ranks_reject_a_data_parallel_bug() -> None:
    done = torchrun("--engine", "mlpbench.impls.ddp_mutants:NoInitialBroadcastEngine")
    assert done.returncode != 0
    assert "FAIL training/adam [float64]" in done.stdout, done.stdout[-2000:] + done.stderr[-2000:]


def test_torchrun_across_two_nodes_conforms() -> None:
    nodes = torchrun_two_nodes()
    output = "".join(text for _, text in nodes)
    assert [code for code, _ in nodes] == [0, 0], output[-4000:]
    assert "4 ranks (gloo): 1 checks ran, 0 failed" in output  # rank 0 (on whichever node) prints the summary


def test_torchrun_across_two_nodes_rejects_a_data_parallel_bug() -> None:
    nodes = torchrun_two_nodes("--engine", "mlpbench.impls.ddp_mutants:NoInitialBroadcastEngine")
    output = "".join(text for _, text in nodes)
    assert all(code != 0 for code, _ in nodes), output[-4000:]
    assert "FAIL training/adam [float64]" in output, output[-4000:]
