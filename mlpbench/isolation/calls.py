"""One call into an implementation, reported as facts: what it returned, what it raised, which inputs it changed.

`invoke(impl, method, args, kwargs)` is what a worker runs for every adapter method the gate asks for (and what
an in-process runner, such as the torchrun ranks, runs directly). It never raises for anything the
implementation does: an exception (sys.exit and KeyboardInterrupt included) becomes a `Raised` with its type,
message and the innermost frame; every array it was given is compared with a copy taken before the call, and
the ones it changed are named by the interface's parameter names ("params[2]", "request.x"). What the gate
makes of these facts (a failed check, and its message) is the gate's own business.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlpbench.impls.interface import Implementation
from mlpbench.isolation.wire import plain


class RaisedKind(enum.Enum):
    NOT_IMPLEMENTED = "not_implemented"
    EXIT = "exit"  # sys.exit / SystemExit
    INTERRUPT = "interrupt"  # KeyboardInterrupt or another BaseException
    EXCEPTION = "exception"


@dataclass(frozen=True)
class Raised:
    kind: RaisedKind
    type_name: str
    message: str
    where: str = ""  # "file.py:123", the innermost frame
    exit_code: str = ""  # repr of SystemExit's code


@dataclass(frozen=True)
class CallOutcome:
    value: Any = None
    raised: Raised | None = None
    modified: tuple[str, ...] = field(default=())


def one_line(text: object, limit: int = 300) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _walk_arrays(value: Any, label: str) -> Iterator[tuple[str, np.ndarray]]:
    """Every ndarray inside `value` (lists, tuples, dicts, dataclasses), with a readable path."""
    if isinstance(value, np.ndarray):
        yield label, value
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _walk_arrays(item, f"{label}[{i}]")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _walk_arrays(item, f"{label}[{key!r}]")
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _walk_arrays(getattr(value, f.name), f"{label}.{f.name}")


def named_arrays(method: str, args: tuple, kwargs: dict) -> Iterator[tuple[str, np.ndarray]]:
    """The arrays passed to `method`, named by the interface's parameter names ("params[2]", "request.x")."""
    try:
        bound = inspect.signature(getattr(Implementation, method)).bind(None, *args, **kwargs)
        named = list(bound.arguments.items())[1:]
    except (AttributeError, TypeError):
        named = [(f"argument {i + 1}", a) for i, a in enumerate(args)] + list(kwargs.items())
    for name, value in named:
        yield from _walk_arrays(value, name)


def describe_raised(error: BaseException) -> Raised:
    frames = traceback.extract_tb(error.__traceback__)
    where = f"{frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
    if isinstance(error, NotImplementedError):
        kind = RaisedKind.NOT_IMPLEMENTED
    elif isinstance(error, SystemExit):
        return Raised(RaisedKind.EXIT, "SystemExit", one_line(error), where, repr(error.code))
    elif isinstance(error, Exception):
        kind = RaisedKind.EXCEPTION
    else:
        kind = RaisedKind.INTERRUPT
    return Raised(kind, type(error).__name__, one_line(error), where)


def invoke(impl: Any, method: str, args: tuple, kwargs: dict, *, copy_result: bool = False) -> CallOutcome:
    """impl.<method>(*args, **kwargs), as facts. `copy_result` copies every array of the result (a caller in
    the same process gets arrays no other call shares; through a worker's pipe every reply is a copy)."""
    snapshot = [(label, array, array.copy()) for label, array in named_arrays(method, args, kwargs)]
    try:
        value = getattr(impl, method)(*args, **kwargs)
    except BaseException as error:  # whatever the implementation raised is a fact to report
        return CallOutcome(raised=describe_raised(error))
    modified = tuple(
        label for label, array, before in snapshot
        if not (array.shape == before.shape and np.array_equal(array, before, equal_nan=array.dtype.kind in "fc"))
    )
    return CallOutcome(value=plain(value, copy=copy_result), modified=modified)


def _cpu_counterpart(impl: Any) -> Any:
    factory = getattr(impl, "cpu_counterpart", None)
    if callable(factory):
        return factory()
    from mlpbench.impls.registry import resolve  # the built-in torch engines' CPU twin

    return resolve("torch-cpu")


def _single_process_counterpart(impl: Any) -> Any:
    return impl.single_process_counterpart()


COUNTERPART_FACTORIES = {"cpu_counterpart": _cpu_counterpart,
                         "single_process_counterpart": _single_process_counterpart}
"""A trusted twin a check compares against, built from the implementation in its own process."""


def counterpart_factories(impl: Any) -> frozenset[str]:
    """The counterparts `impl` can give: its own factories, and torch-cpu for the built-in torch engines."""
    names = {name for name in COUNTERPART_FACTORIES if callable(getattr(impl, name, None))}
    if str(getattr(impl, "name", "")).startswith("torch"):
        names.add("cpu_counterpart")
    return frozenset(names)
