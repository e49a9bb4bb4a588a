"""The environment record stored with every benchmark run: what the numbers depend on, no host name."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any, TypedDict

import numpy as np


class GitRecord(TypedDict, total=False):
    commit: str | None
    dirty: bool | None


class _GpuName(TypedDict):
    name: str


class GpuRecord(_GpuName, total=False):
    count: int
    memory_bytes: int
    capability: str | None
    driver: str | None
    cuda_runtime: str | None


class TorchRecord(TypedDict, total=False):
    available: bool
    reason: str
    version: str
    threads: int
    interop_threads: int
    cuda_build: str | None
    cuda_available: bool
    precision_flags: dict[str, Any]
    gpu: GpuRecord | None
    gpu_unavailable_reason: str


class EnvironmentRecord(TypedDict, total=False):
    """The environment record's schema (what the reports read of it; other keys are kept as they are)."""

    python: str | None
    platform: str | None
    cpu_model: str | None
    cpu_cores: int | None
    numpy: str | None
    torch: TorchRecord
    blas_threads: list[dict[str, Any]]
    thread_env: dict[str, str]
    git: GitRecord


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def git_commit(repo: Path | None = None) -> GitRecord:
    repo = repo or Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=repo, capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
        return {"commit": commit, "dirty": bool(dirty)}
    except (OSError, subprocess.SubprocessError):
        return {"commit": "unknown", "dirty": None}


def _nvidia_driver() -> str | None:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
        return out.splitlines()[0] if out else None
    except (OSError, subprocess.SubprocessError):
        return None


def blas_threads() -> list[dict]:
    """Thread pools of the BLAS/OpenMP libraries loaded in this process (needs threadpoolctl, optional)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    return [
        {k: info.get(k) for k in ("user_api", "internal_api", "num_threads", "version")}
        for info in threadpool_info()
    ]


def torch_record() -> TorchRecord:
    try:
        import torch
    except ImportError as error:
        return {"available": False, "reason": f"torch not importable: {error}"}
    record: TorchRecord = {
        "available": True,
        "version": torch.__version__,
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "cuda_build": torch.version.cuda,
        "cuda_available": torch.cuda.is_available(),
        "precision_flags": {
            "float32_matmul_precision": torch.get_float32_matmul_precision(),
            "cuda.matmul.allow_tf32": torch.backends.cuda.matmul.allow_tf32,
            "cudnn.allow_tf32": torch.backends.cudnn.allow_tf32,
            "cuda.matmul.allow_fp16_reduced_precision_reduction":
                torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction,
        },
    }
    if torch.cuda.is_available():
        index = torch.cuda.current_device()
        props = torch.cuda.get_device_properties(index)
        record["gpu"] = {
            "name": torch.cuda.get_device_name(index),
            "count": torch.cuda.device_count(),
            "memory_bytes": int(props.total_memory),
            "capability": ".".join(map(str, torch.cuda.get_device_capability(index))),
            "driver": _nvidia_driver(),
            "cuda_runtime": torch.version.cuda,
        }
    else:
        record["gpu"] = None
        record["gpu_unavailable_reason"] = (
            "CUDA not available: torch.cuda.is_available() is False"
            + ("" if torch.version.cuda else " (CPU-only build of torch)")
        )
    return record


def environment_record() -> EnvironmentRecord:
    return {
        "python": sys.version.split()[0],
        "platform": f"{platform.system()} {platform.release()} {platform.machine()}",
        "cpu_model": cpu_model(),
        "cpu_cores": os.cpu_count(),
        "numpy": np.__version__,
        "torch": torch_record(),
        "blas_threads": blas_threads(),
        "thread_env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
                       if k in os.environ},
        "git": git_commit(),
    }
