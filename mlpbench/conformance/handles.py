"""How a check reaches the implementation it checks: a handle, never the implementation object itself.

A check runs in the gate's process (the oracle, the tolerances, the comparison and the verdict with it) and
calls the implementation only through `CheckContext.call`, which asks the handle to `invoke` a method and
gets facts back (`mlpbench.isolation.calls.CallOutcome`). Two handles:

- `WorkerHandle`: the implementation lives in its supervised worker process; every call crosses the pipe (the
  gate sends copies of the inputs, the reply is decoded as plain data only), and a worker that exits, dies
  or outlives the check's time limit raises `WorkerLost`, which fails the check with what happened.
- `LocalHandle`: the implementation lives in this process (the torchrun ranks, which are the implementation's
  own processes, run the checks this way); results are copied, so no two calls share an array.

A check's counterpart (a CUDA engine's CPU twin, a data-parallel engine's single-process twin) is reached the
same way, through `counterpart(factory)`, in the implementation's own process.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from mlpbench.impls.capabilities import Capabilities
from mlpbench.isolation.calls import COUNTERPART_FACTORIES, CallOutcome, counterpart_factories, invoke
from mlpbench.isolation.supervisor import Worker, WorkerDied
from mlpbench.isolation.worker import ImplInfo
from mlpbench.reference.conventions import Conventions


class WorkerLost(Exception):
    """The worker running the implementation did not return from a call (exit, signal or time-out)."""

    def __init__(self, died: WorkerDied) -> None:
        super().__init__(died.describe())
        self.died = died


class ImplHandle(Protocol):
    name: str
    device: str
    precision: str
    conventions: Conventions
    world_size: int
    available: bool
    reason: str

    def capabilities(self) -> Capabilities: ...

    def has_counterpart(self, factory: str) -> bool: ...

    def counterpart(self, factory: str) -> Any: ...

    def invoke(self, method: str, args: tuple, kwargs: dict) -> CallOutcome: ...


class CounterpartCalls:
    """A counterpart's methods as plain calls (`counterpart.train(request)`): its value, or CounterpartFailed."""

    def __init__(self, invoke_method: Any, label: str) -> None:
        self._invoke = invoke_method
        self._label = label

    def __getattr__(self, method: str) -> Any:
        if method.startswith("_"):
            raise AttributeError(method)

        def call(*args: Any, **kwargs: Any) -> Any:
            outcome = self._invoke(method, args, kwargs)
            if outcome.raised is not None:
                raised = outcome.raised
                raise CounterpartFailed(f"the counterpart {self._label}'s {method} raised {raised.type_name}: "
                                        f"{raised.message}" + (f" (at {raised.where})" if raised.where else ""))
            return outcome.value

        return call


class CounterpartFailed(Exception):
    """A trusted counterpart failed: the check cannot compare against it."""


@dataclass
class LocalHandle:
    """An implementation in this process."""

    impl: Any
    name: str = ""
    device: str = "cpu"
    precision: str = "ieee"
    conventions: Conventions = field(default_factory=Conventions)
    world_size: int = 1
    available: bool = True
    reason: str = ""
    _counterparts: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        impl = self.impl
        self.name, self.device = str(impl.name), str(getattr(impl, "device", "cpu"))
        self.precision = str(getattr(impl, "precision", "ieee"))
        self.conventions = impl.conventions
        self.world_size = int(getattr(impl, "world_size", 1) or 1)
        self.available, self.reason = impl.availability()

    def capabilities(self) -> Capabilities:
        return self.impl.capabilities()

    def has_counterpart(self, factory: str) -> bool:
        return factory in counterpart_factories(self.impl)

    def counterpart(self, factory: str) -> CounterpartCalls:
        if factory not in self._counterparts:
            self._counterparts[factory] = COUNTERPART_FACTORIES[factory](self.impl)
        target = self._counterparts[factory]
        return CounterpartCalls(lambda method, args, kwargs: invoke(target, method, args, kwargs, copy_result=True),
                                factory)

    def invoke(self, method: str, args: tuple, kwargs: dict) -> CallOutcome:
        return invoke(self.impl, method, args, kwargs, copy_result=True)


class WorkerHandle:
    """The implementation in its supervised worker; every call within the check's time limit."""

    def __init__(self, worker: Worker, info: ImplInfo, timeout: float | None) -> None:
        if info.capabilities is None:
            raise ValueError(f"{info.label} has no capabilities to check")
        self.worker, self.info, self.timeout = worker, info, timeout
        self.name, self.device, self.precision = info.name, info.device, info.precision
        self.conventions, self.world_size = info.conventions, info.world_size
        self.available, self.reason = info.available, info.reason
        self._deadline = None if timeout is None else time.monotonic() + timeout

    def capabilities(self) -> Capabilities:
        assert self.info.capabilities is not None  # checked in __init__
        return self.info.capabilities

    def has_counterpart(self, factory: str) -> bool:
        return factory in self.info.counterparts

    def counterpart(self, factory: str) -> CounterpartCalls:
        return CounterpartCalls(lambda method, args, kwargs: self._invoke(factory, method, args, kwargs), factory)

    def invoke(self, method: str, args: tuple, kwargs: dict) -> CallOutcome:
        return self._invoke("", method, args, kwargs)

    def _invoke(self, via: str, method: str, args: tuple, kwargs: dict) -> CallOutcome:
        remaining = None if self._deadline is None else max(self._deadline - time.monotonic(), 0.001)
        outcome = self.worker.invoke(via, method, args, kwargs, timeout=remaining, limit=self.timeout)
        if isinstance(outcome, WorkerDied):
            raise WorkerLost(outcome)
        return outcome
