"""A pool of data-parallel ranks on one machine, kept alive from call to call, that never hangs its caller.

Start: the adapter hosts a `torch.distributed.TCPStore` on 127.0.0.1, port 0 (the kernel picks a free port and
the store keeps it bound, so parallel runs never collide), and starts `world_size` rank processes with
torch.multiprocessing's spawn context; each joins the process group through that store (gloo over the
loopback interface on the CPU, NCCL on CUDA) and reports ready. Nothing listens beyond loopback.

Calls: a request goes to every rank over its own pipe; the call returns when every rank has answered. A rank
that exits or dies by a signal, that raises while another rank answers, or that does not answer within the
call's time limit ends the pool (every rank is killed) and the call raises `RankFailure` naming the rank and
what happened; the next call starts a fresh pool. The ranks end with the adapter's process however it ends
(see `mlpbench.impls.ddp_rank._die_with_parent`), so a supervisor that kills a hung worker leaves no rank behind.

The gate's worker is a daemonic process, and multiprocessing refuses to let a daemonic process start children
(it could not clean them up when it exits); `RankPool.start` clears that flag for its own process before it
starts the ranks, which are themselves daemonic (ended at a normal exit) and watch their parent for any other.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from dataclasses import dataclass, field
from datetime import timedelta
from multiprocessing.connection import wait
from typing import Any, NoReturn

START_TIMEOUT_S = 120.0
"""Seconds the ranks may take to start (import torch) and join the process group."""


class RankFailure(RuntimeError):
    """A rank crashed, hung, or raised; the pool was ended."""


def describe_exit(code: int | None) -> str:
    if code is None:
        return "ended"
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


@dataclass
class RankPool:
    """`world_size` ranks running `engine` ("module:Class", a subclass of mlpbench.impls.ddp_rank.RankEngine)."""

    world_size: int
    device: str = "cpu"  # "cpu" (gloo) | "cuda" (NCCL, one GPU per rank)
    engine: str = "mlpbench.impls.ddp_rank:RankEngine"
    threads: int = 0  # torch threads per rank; 0: the cores divided among the ranks
    collective_timeout_s: float = 60.0
    processes: list[Any] = field(default_factory=list)
    conns: list[Any] = field(default_factory=list)
    store: Any = None

    @property
    def running(self) -> bool:
        return bool(self.processes) and all(p.is_alive() for p in self.processes)

    def start(self) -> None:
        import torch.distributed as dist
        import torch.multiprocessing as torch_mp

        from mlpbench.impls.ddp_rank import RankConfig, rank_main

        self.close()
        current = multiprocessing.current_process()
        if current.daemon:
            current.daemon = False  # see the module docstring: the ranks guard their own end
        self.store = dist.TCPStore("127.0.0.1", 0, None, True, timedelta(seconds=self.collective_timeout_s),
                                   wait_for_workers=False)
        threads = self.threads or max(1, (os.cpu_count() or 1) // self.world_size)
        context = torch_mp.get_context("spawn")
        for rank in range(self.world_size):
            parent, child = context.Pipe()
            config = RankConfig(rank=rank, world_size=self.world_size,
                                backend="nccl" if self.device == "cuda" else "gloo", device=self.device,
                                store_port=self.store.port, engine=self.engine, parent_pid=os.getpid(),
                                threads=threads, collective_timeout_s=self.collective_timeout_s)
            process = context.Process(target=rank_main, args=(config, child), daemon=True,
                                      name=f"mlpbench rank {rank}/{self.world_size}")
            process.start()
            child.close()
            self.processes.append(process)
            self.conns.append(parent)
        try:
            self._collect("start", START_TIMEOUT_S)
        except RankFailure:
            self.close()
            raise

    def call(self, op: str, timeout_s: float, **kwargs: Any) -> list[Any]:
        """Every rank's answer to `op`, in rank order (starting the pool first if it is not running)."""
        if not self.running:
            self.start()
        for rank, conn in enumerate(self.conns):
            try:
                conn.send((op, kwargs))
            except (BrokenPipeError, ConnectionResetError, EOFError):
                self._fail(f"rank {rank} {describe_exit(self.processes[rank].exitcode)} before {op}")
        return self._collect(op, timeout_s)

    def _collect(self, op: str, timeout_s: float) -> list[Any]:
        """Every rank's answer to `op`, in rank order; a rank that ends, raises or is late ends the pool."""
        answers: list[Any] = [None] * self.world_size
        pending = dict(enumerate(self.conns))
        deadline = time.monotonic() + timeout_s
        raised: list[str] = []
        while pending:
            for rank in self._ready(pending, deadline, raised, f"did not answer {op} within {timeout_s:g} s"):
                status, value = self._receive(rank, pending.pop(rank), op)
                if status == "raised":
                    raised.append(f"rank {rank} raised {value}")
                answers[rank] = value
                if raised:  # the others get a short grace to fail too (same inputs), else they are stuck
                    deadline = min(deadline, time.monotonic() + 10.0)
        if raised:
            if len(raised) < self.world_size:
                self._fail("; ".join(raised))
            raise RankFailure(raised[0])
        return answers

    def _ready(self, pending: dict[int, Any], deadline: float, raised: list[str], lateness: str) -> list[int]:
        """The pending ranks that answered or ended; when none has by `deadline`, the pool ends."""
        remaining = deadline - time.monotonic()
        waitables = list(pending.values()) + [self.processes[r].sentinel for r in pending]
        ready = wait(waitables, timeout=max(0.0, remaining)) if remaining > 0 else []
        if not ready:
            late = ", ".join(str(r) for r in sorted(pending))
            prefix = f"{'; '.join(raised)}; then " if raised else ""
            self._fail(f"{prefix}rank {late} {lateness}")
        return [rank for rank, conn in pending.items() if conn in ready or self.processes[rank].sentinel in ready]

    def _receive(self, rank: int, conn: Any, op: str) -> tuple[str, Any]:
        """The (status, value) `rank` sent; when it ended instead of answering, the pool ends."""
        try:
            status, value = conn.recv() if conn.poll() else (None, None)
        except (EOFError, ConnectionResetError, OSError):
            status, value = None, None
        if status is None:
            process = self.processes[rank]
            process.join(timeout=5)
            self._fail(f"rank {rank} {describe_exit(process.exitcode)} during {op}")
        return status, value

    def _fail(self, message: str) -> NoReturn:
        self.close()
        raise RankFailure(f"{message}; the {self.world_size} ranks were stopped")

    def close(self) -> None:
        """Stop every rank (killing a busy or hung one) and the store."""
        for conn in self.conns:
            conn.close()
        for process in self.processes:
            if process.is_alive():
                process.kill()
        for process in self.processes:
            process.join(timeout=10)
        self.processes, self.conns = [], []
        self.store = None

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]
