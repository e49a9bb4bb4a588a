"""What runs inside a worker process: loading the implementation under test and running calls into it.

`serve` is the worker process's main loop: it receives (function, args) from the supervisor
(`mlpbench.isolation.supervisor`) over a pipe and sends back ("ok", value) or ("raised", text), pickled as
plain data (`mlpbench.isolation.wire`; the gate reads nothing else). The functions below are what the
supervisor sends; they are never called in the gate's own process. The worker runs the implementation and
nothing else: `load` builds it and reports what it claims, `invoke` runs one adapter method on the inputs the
gate sent and returns the facts (`mlpbench.isolation.calls`); cases, the oracle, tolerances and verdicts stay
in the gate. The worker leads a process group of its own (its children and theirs are killed with it) and
asks the kernel to kill it when its parent goes. The first call in a
fresh worker sends the worker's standard output
and error to a log file (so an implementation that floods its output cannot flood the gate's terminal) and
arms `faulthandler` on a file of its own, so that a segfault or a hang leaves the Python traceback where the
supervisor can read it. Implementations are loaded once per worker and cached by the name they were asked by.
"""

from __future__ import annotations

import faulthandler
import os
import signal
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlpbench.impls.capabilities import Capabilities
from mlpbench.isolation import wire
from mlpbench.isolation.calls import COUNTERPART_FACTORIES, CallOutcome, counterpart_factories, describe_raised
from mlpbench.isolation.calls import invoke as invoke_method
from mlpbench.reference.conventions import PYTORCH, Conventions

_LOADED: dict[str, Any] = {}
_FAULT_FILE: Any = None


def log_paths(log_dir: str | Path, pid: int) -> tuple[Path, Path]:
    """(captured output, faulthandler traceback) of the worker with process id `pid`."""
    return Path(log_dir) / f"worker-{pid}.out", Path(log_dir) / f"worker-{pid}.fault"


def prepare(log_dir: str, sys_path: list[str]) -> None:
    """Every call: the gate's import path (workers start from a server process that may predate changes to
    it). Once per worker process: output to a log file, faulthandler armed."""
    global _FAULT_FILE
    if sys.path != sys_path:
        sys.path[:] = sys_path
    if _FAULT_FILE is not None:
        return
    out_path, fault_path = log_paths(log_dir, os.getpid())
    sys.stdout.flush()
    sys.stderr.flush()
    out = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(out)
    _FAULT_FILE = open(fault_path, "w")  # noqa: SIM115  (kept open for the life of the process)
    faulthandler.enable(file=_FAULT_FILE, all_threads=True)


PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Lead a process group of our own, and have the kernel SIGKILL us when our parent (the worker server,
    which ends with the gate) goes, however it goes."""
    os.setpgid(0, 0)
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the supervisor's kill and the gate's exit hooks remain
        pass


def serve(conn: Any) -> None:
    """The worker's loop: run what the supervisor sends until the pipe closes. Ctrl-C is the supervisor's to
    handle (it stops this process), so the worker ignores SIGINT."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    while True:
        try:
            function, args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            message: tuple[str, Any] = ("ok", function(*args))
        except BaseException as error:  # reported to the supervisor, whatever it is
            message = ("raised", f"{type(error).__name__}: {_one_line(error)}; "
                                 f"{_one_line(traceback.format_exc(limit=-3), 800)}")
        try:
            data = wire.dumps(message)
        except Exception as error:  # e.g. a result that cannot be pickled
            data = wire.dumps(("raised", f"the result could not be sent back: {type(error).__name__}: "
                                         f"{_one_line(error)}"))
        conn.send_bytes(data)


@dataclass
class ImplInfo:
    """What the gate learns about an implementation, from inside its worker."""

    label: str
    pid: int
    name: str = ""
    kind: str = "plug-in"
    device: str = "cpu"
    precision: str = "ieee"
    description: str = ""
    conventions: Conventions = PYTORCH
    capabilities: Capabilities | None = None
    capabilities_error: str = ""
    available: bool = False
    reason: str = ""
    unknown: str = ""  # set when the name resolves to nothing (a usage error)
    load_error: str = ""  # set when resolving or building it failed (a failure of the implementation)
    world_size: int = 1  # ranks a data-parallel implementation all-reduces over
    counterparts: frozenset[str] = frozenset()  # the trusted twins it can give (calls.COUNTERPART_FACTORIES)
    details: dict[str, Any] = field(default_factory=dict)


def _one_line(text: object, limit: int = 400) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _raised(error: BaseException) -> str:
    if isinstance(error, SystemExit):
        return f"called sys.exit({error.code!r})"
    return f"raised {type(error).__name__}: {_one_line(error)}"


def implementation(label: str) -> Any:
    """The implementation `label` names, built once per worker."""
    if label not in _LOADED:
        from mlpbench.impls.registry import resolve

        _LOADED[label] = resolve(label)
    return _LOADED[label]


def load(label: str, log_dir: str, sys_path: list[str]) -> ImplInfo:
    """Resolve and build the implementation, then ask it for its capabilities and availability."""
    prepare(log_dir, sys_path)
    from mlpbench.impls.registry import UnknownImplementation

    info = ImplInfo(label=label, pid=os.getpid())
    try:
        impl = implementation(label)
    except UnknownImplementation as error:
        if getattr(error, "not_found", False):
            info.unknown = str(error)
        else:
            info.load_error = str(error)
        return info
    except BaseException as error:  # an import-time sys.exit or any other escape of the implementation
        info.load_error = f"loading {label!r} {_raised(error)}"
        return info
    info.load_error = _read_attributes(info, impl, label)
    if info.load_error:
        return info
    try:
        caps = impl.capabilities()
        if type(caps) is not Capabilities:
            raise TypeError(f"returned a {type(caps).__name__}, not mlpbench.impls.interface.Capabilities")
        info.capabilities = caps
    except BaseException as error:
        info.capabilities_error = f"capabilities() {_raised(error)}"
    try:
        available, reason = impl.availability()
        info.available, info.reason = bool(available), _one_line(reason)
    except BaseException as error:
        info.available, info.reason = False, f"availability() {_raised(error)}"
    return info


def _read_attributes(info: ImplInfo, impl: Any, label: str) -> str:
    """Copy what the gate reads of the implementation into `info`; the load error, or "" when all is well."""
    for attribute in ("name", "kind", "device", "precision", "description", "conventions"):
        try:
            setattr(info, attribute, getattr(impl, attribute))
        except BaseException as error:
            return f"reading {attribute} of {label!r} {_raised(error)}"
    try:
        info.world_size = int(getattr(impl, "world_size", 1) or 1)
        info.counterparts = counterpart_factories(impl)
    except BaseException as error:
        return f"reading world_size of {label!r} {_raised(error)}"
    if type(info.conventions) is not Conventions:
        return f"{label!r}: conventions is a {type(info.conventions).__name__}, not a Conventions"
    return ""


def _with_hang_dump(hang_dump_s: float | None, function: Any, *args: Any) -> Any:
    """function(*args) with faulthandler armed to dump every thread's traceback after `hang_dump_s` seconds
    (the supervisor kills the worker shortly after, at the call's time limit), so a hang shows where it hung."""
    if hang_dump_s is not None:
        faulthandler.dump_traceback_later(hang_dump_s, file=_FAULT_FILE)
    try:
        return function(*args)
    finally:
        if hang_dump_s is not None:
            faulthandler.cancel_dump_traceback_later()


def _target(label: str, via: str) -> Any:
    """The implementation, or (via a factory name) its counterpart, built once per worker."""
    if not via:
        return implementation(label)
    key = f"{label}\x00{via}"
    if key not in _LOADED:
        _LOADED[key] = COUNTERPART_FACTORIES[via](implementation(label))
    return _LOADED[key]


def invoke(label: str, log_dir: str, sys_path: list[str], hang_dump_s: float | None, via: str, method: str,
           args: tuple, kwargs: dict) -> CallOutcome:
    """One adapter method of the implementation (or of its counterpart `via`) on the gate's inputs: the facts."""
    prepare(log_dir, sys_path)
    try:
        target = _target(label, via)
    except BaseException as error:  # building the counterpart is the implementation's code too
        return CallOutcome(raised=describe_raised(error))
    return _with_hang_dump(hang_dump_s, invoke_method, target, method, args, kwargs)


def call(label: str, log_dir: str, sys_path: list[str], hang_dump_s: float | None, function: Any, *args: Any
         ) -> Any:
    """`function(implementation, *args)` inside the worker (the benchmark's measurements use this)."""
    prepare(log_dir, sys_path)
    return _with_hang_dump(hang_dump_s, function, implementation(label), *args)
