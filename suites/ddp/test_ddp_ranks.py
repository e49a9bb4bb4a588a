"""How ranks start and end: a rank that crashes, hangs or raises fails the call within bounded time and never
hangs it; the next call gets a fresh pool; ranks die with the process that started them (the gate's worker,
killed on a time-out); pools side by side rendezvous on different loopback ports."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

pytest.importorskip("torch")

from mlpbench.impls.ddp_impl import TorchDDPImplementation  # noqa: E402
from mlpbench.impls.ddp_pool import RankFailure  # noqa: E402
from mlpbench.isolation.supervisor import Worker, WorkerDied  # noqa: E402
from mlpbench.reference.model import init_params  # noqa: E402
from mlpbench.reference.spec import MLPSpec  # noqa: E402

LONG_CALL_S = 600.0
"""A call limit no loaded machine reaches in these tests."""
DEATH_WAIT_S = 30.0
"""How long a stopped rank may take to be reaped on a loaded machine (it is SIGKILLed; reaping takes ms)."""
SPEC = MLPSpec((3, 4, 2), activation="tanh", output_activation="identity")


class Faulty(TorchDDPImplementation):
    def __init__(self, engine: str, call_timeout_s: float = 30.0) -> None:
        super().__init__(world_size=2, call_timeout_s=call_timeout_s)
        self.engine = f"ddp_fault_engines:{engine}"


def forward_backward(impl: TorchDDPImplementation):
    rng = np.random.default_rng(0)
    return impl.forward_backward(SPEC, init_params(SPEC, rng), rng.normal(size=(4, 3)), rng.normal(size=(4, 2)),
                                 "mse")


def dead(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1].startswith("Z")
    except OSError:
        return True


def wait_dead(pids: list[int], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if all(dead(pid) for pid in pids):
            return True
        time.sleep(0.1)
    return all(dead(pid) for pid in pids)


@pytest.mark.parametrize(("engine", "message"), [("CrashOnRank1", "rank 1 exited with code 3"),
                                                 ("RaiseOnRank1", "rank 1 raised ArithmeticError")])
def test_a_rank_that_crashes_or_raises_fails_the_call_and_the_pool_is_stopped(engine: str, message: str) -> None:
    # The call's limit is far longer than any machine load makes this call: the failure must be the rank's own
    # (the message names it), not the limit running out, which would say "did not answer".
    impl = Faulty(engine, call_timeout_s=LONG_CALL_S)
    try:
        impl.pool().start()
        pids = impl.pool().pids()
        with pytest.raises(RankFailure, match=message):
            forward_backward(impl)
        assert wait_dead(pids, DEATH_WAIT_S), "every rank is stopped after a failure"
    finally:
        impl.close()


def test_a_rank_that_hangs_fails_the_call_at_its_time_limit() -> None:
    impl = Faulty("HangOnRank1", call_timeout_s=3.0)
    try:
        impl.pool().start()
        pids = impl.pool().pids()
        begin = time.monotonic()
        with pytest.raises(RankFailure, match="did not answer forward_backward within 3 s"):
            forward_backward(impl)
        # stopped at its limit, not at a later one (a second wait would double it), however loaded the machine
        assert time.monotonic() - begin < 2 * 3.0 + DEATH_WAIT_S
        assert wait_dead(pids, DEATH_WAIT_S)
    finally:
        impl.close()


def test_the_next_call_after_a_failure_gets_a_fresh_pool_beside_another_pool() -> None:
    impl, beside = TorchDDPImplementation(world_size=2), TorchDDPImplementation(world_size=2)
    try:
        first = forward_backward(impl)
        old = impl.pool().pids()
        os.kill(old[1], 9)
        with pytest.raises(RankFailure, match="rank 1 was killed by SIGKILL"):
            forward_backward(impl)
        beside_result = forward_backward(beside)  # two pools at once: each on a port of its own
        again = forward_backward(impl)
        assert impl.pool().store.port != beside.pool().store.port
        assert set(impl.pool().pids()).isdisjoint(old)
        np.testing.assert_array_equal(again.param_grads[0], first.param_grads[0])
        np.testing.assert_array_equal(beside_result.param_grads[0], first.param_grads[0])
    finally:
        impl.close()
        beside.close()


def start_pool_and_report_pids(impl: TorchDDPImplementation) -> list[int]:
    impl.pool().start()
    return impl.pool().pids()


def sleep_forever(impl: TorchDDPImplementation) -> None:
    while True:
        time.sleep(1)


def test_ranks_die_with_the_gates_worker_when_it_is_killed() -> None:
    with Worker("torch-ddp") as worker:
        pids = worker.apply(start_pool_and_report_pids, timeout=120)
        assert isinstance(pids, list) and len(pids) == 2 and not any(dead(pid) for pid in pids)
        outcome = worker.apply(sleep_forever, timeout=1.0)  # the supervisor kills the hung worker (SIGKILL)
        assert isinstance(outcome, WorkerDied) and "timed out" in outcome.message
    assert wait_dead(pids, DEATH_WAIT_S), "ranks outlived the worker that started them"
