"""The gate's side of isolation: every call into an implementation runs in a supervised worker process.

`Worker(label)` owns one worker process, reused from call to call so that importing a framework is paid
once. A call that returns gives its value; a call whose worker exits (with any
code, 0 included), dies by a signal or outlives its time limit gives a `WorkerDied` naming what happened, with
the worker's Python traceback (faulthandler) and the tail of its output when there are any. The worker is
killed on a time-out, so a hang that holds the GIL is stopped too, and the next call gets a fresh worker.
Every call hands the worker the import path to use (`mlpbench.impls.targets.search_path`: the gate's path,
with the working folder first for a `module:factory` target).

The supervision is written on multiprocessing's own primitives (a Process, a Pipe, and `connection.wait` on
the pipe and the process sentinel) rather than a pool library: pebble, the closest fit, treats a worker that
exits with code 0 as a normal retirement (its pool ignores exit code 0), so a call whose implementation runs
`os._exit(0)` would hang until its time-out instead of failing at once as "exited with code 0"; loky's
reusable executor turns any dead worker into a broken executor and kills nothing on a per-call time-out.
A worker is one process and one pipe; nothing more is needed.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import multiprocessing
import multiprocessing.util
import os
import shutil
import signal
import sys
import tempfile
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any

from mlpbench.impls.targets import search_path
from mlpbench.isolation import worker as worker_side
from mlpbench.isolation.reaper import Reaper
from mlpbench.isolation.wire import MalformedReply, safe_loads
from mlpbench.reference.conventions import Conventions
from mlpbench.report_text import MESSAGE_LIMIT, NAME_LIMIT, capped

START_METHOD = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
"""Workers start from a clean server process that has imported NumPy and the oracle but no framework, so a
fresh worker after a crash costs only the implementation's own imports."""

LOAD_TIMEOUT = 300.0
"""Seconds loading an implementation (imports, factory, capabilities, availability) may take."""

_context = (multiprocessing.get_context("forkserver") if START_METHOD == "forkserver"
            else multiprocessing.get_context("spawn"))  # each literal gives the typed context
_PRELOAD = ["numpy", "mlpbench.isolation.worker", "mlpbench.impls.interface"]
if START_METHOD == "forkserver":
    _context.set_forkserver_preload(_PRELOAD)

FRAMEWORK_OF_PREFIX = {"torch-": "torch", "mutant-": "torch", "jax-": "jax", "keras": "jax"}
"""Built-in name prefix -> the framework its workers import; preloaded in the server (see `preload_for`)."""

IMPORTED_ON_FIRST_USE = {"torch": ["torch._dynamo"]}
"""Framework -> modules it imports lazily on first use in every fresh worker, preloaded with it: the first
torch.optim optimizer a process builds imports torch._dynamo (about 1.5 s, as long as torch itself)."""


def preload_for(labels: list[str] | tuple[str, ...]) -> None:
    """Have the worker server import the frameworks these built-ins use before it forks any worker, so that a
    fresh worker (one per implementation, and one after every crash) does not pay the framework's import
    again. Only the server imports them, never the gate; effective only before the first worker starts, and
    only for frameworks installed here."""
    import importlib.util

    wanted = {framework for label in labels for prefix, framework in FRAMEWORK_OF_PREFIX.items()
              if label.startswith(prefix)}
    found = sorted(m for m in wanted if importlib.util.find_spec(m) is not None)
    extra = [m for f in found for m in (f, *IMPORTED_ON_FIRST_USE.get(f, ())) if m not in _PRELOAD]
    if extra and START_METHOD == "forkserver":
        _PRELOAD.extend(extra)
        _context.set_forkserver_preload(_PRELOAD)


@dataclass
class WorkerDied:
    """A call that did not return: the worker exited, was killed by a signal, or timed out."""

    message: str  # one line: what happened
    traceback: str = ""  # the worker's Python traceback (faulthandler), if it left one
    output_tail: str = ""  # the last lines the worker printed

    def describe(self) -> str:
        text = self.message
        if self.traceback:
            text += f"; traceback: {self.traceback}"
        if self.output_tail:
            text += f"; last output: {self.output_tail}"
        return text


class ImplementationRaised(Exception):
    """A call into the implementation escaped with an exception the worker did not turn into a result."""


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def describe_exit(code: int | None) -> str:
    """'exited with code 3' or 'was killed by SIGSEGV'."""
    if code is None:
        return "ended"
    if code < 0:
        return f"was killed by {_signal_name(-code)}"
    return f"exited with code {code}"


def _tail(text: str, lines: int = 6, limit: int = 600) -> str:
    kept = " | ".join(line.strip() for line in text.strip().splitlines()[-lines:] if line.strip())
    return kept if len(kept) <= limit else "..." + kept[-limit:]


def _traceback_summary(text: str, limit: int = 1200) -> str:
    """faulthandler's dump, innermost frame first for each thread, as one line."""
    text = " ".join(line.strip() for line in text.strip().splitlines() if line.strip())
    return text if len(text) <= limit else text[:limit] + "..."


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_LIVE: weakref.WeakSet[Worker] = weakref.WeakSet()
"""Every worker not yet closed: closed when the gate exits, whichever way it exits normally."""


@atexit.register
def close_all() -> None:
    """Stop every live worker (and everything in its process group) and remove its folder."""
    for worker in list(_LIVE):
        worker.close()


@contextlib.contextmanager
def _std_streams_to_devnull() -> Iterator[None]:
    """Standard output and error point at /dev/null while a process starts: the worker server (and the
    resource tracker it starts) never hold the gate's terminal or pipe, so `mlpbench check ... | cat` ends
    when the gate does."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


class Worker:
    """One supervised worker process for the implementation named `label`."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._reaper = Reaper.ensure()
        self.log_dir = tempfile.mkdtemp(prefix="mlpbench-worker-")
        self._reaper.tell("dir", self.log_dir)
        self._process: Any = None
        self._conn: Any = None
        self.info: worker_side.ImplInfo | None = None  # what the last successful load reported
        _LIVE.add(self)

    # -- life cycle -----------------------------------------------------------------------------------------
    def _ensure_process(self) -> None:
        if self._process is not None and self._process.is_alive():
            return
        self._stop_process()
        parent, child = _context.Pipe()
        process = _context.Process(target=worker_side.serve, args=(child,), name=f"mlpbench worker {self.label}",
                                   daemon=True)
        with _std_streams_to_devnull():
            process.start()
        child.close()
        self._process, self._conn = process, parent
        self._reaper.tell("group", process.pid)
        self._reaper.tell("dir", multiprocessing.util.get_temp_dir())  # the worker server's socket folder

    def _kill_group(self) -> None:
        """SIGKILL the worker and every process in its group (what the implementation started)."""
        if self._process is None or self._process.pid is None:
            return
        try:
            os.killpg(self._process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self._process.is_alive():
            self._process.kill()

    def _stop_process(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._process is not None:
            self._kill_group()
            self._process.join(timeout=10)
            self._reaper.tell("ungroup", self._process.pid)
            self._process = None

    def close(self) -> None:
        """Stop the worker (killing it and its process group) and remove its log files."""
        self._stop_process()
        shutil.rmtree(self.log_dir, ignore_errors=True)
        self._reaper.tell("undir", self.log_dir)
        _LIVE.discard(self)

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- calls ----------------------------------------------------------------------------------------------
    def call(self, function: Callable[..., Any], *args: Any, timeout: float | None, limit: float | None = None
             ) -> Any:
        """function(*args) in the worker; its value, or a WorkerDied. An exception that escapes `function` in
        the worker (which the worker-side functions do not let happen for the implementation's own errors)
        is raised here as ImplementationRaised; a reply that is not plain data raises MalformedReply (and the
        worker, which sent it, is replaced). `limit` is the time limit a time-out reports (default `timeout`:
        a call may be given what is left of a longer limit)."""
        self._ensure_process()
        try:
            self._conn.send((function, args))
        except (BrokenPipeError, ConnectionResetError, EOFError):
            self._process.join(timeout=10)
            return self._died(describe_exit(self._process.exitcode))
        ready = wait([self._conn, self._process.sentinel], timeout)
        if self._conn in ready:
            try:
                data = self._conn.recv_bytes()
            except (EOFError, ConnectionResetError):
                self._process.join(timeout=10)
                return self._died(describe_exit(self._process.exitcode))
            try:
                status, value = safe_loads(data)
            except (MalformedReply, TypeError, ValueError) as error:
                self._stop_process()
                raise MalformedReply(str(error)) from None
            if status == "ok":
                return value
            raise ImplementationRaised(value)
        if self._process.sentinel in ready:
            self._process.join(timeout=10)
            return self._died(describe_exit(self._process.exitcode))
        self._kill_group()  # SIGKILL: a hang that holds the GIL is stopped too
        self._process.join(timeout=10)
        return self._died(f"timed out after {timeout if limit is None else limit:g} s and was killed")

    def _died(self, what: str) -> WorkerDied:
        self._stop_process()
        traceback, output = self._collect_dead_logs()
        return WorkerDied(f"the worker process running {self.label!r} {what}", traceback, output)

    def _worker_pids(self) -> list[int]:
        pids = []
        for name in os.listdir(self.log_dir):
            if name.startswith("worker-") and name.endswith(".out"):
                try:
                    pids.append(int(name[len("worker-"):-len(".out")]))
                except ValueError:
                    pass
        return pids

    def _collect_dead_logs(self) -> tuple[str, str]:
        """Traceback and output tail of workers that are no longer alive; their files are removed."""
        traceback, output = "", ""
        for pid in self._worker_pids():
            if _alive(pid) and not _is_zombie(pid) and self._process is not None and pid == self._process.pid:
                continue
            out_path, fault_path = worker_side.log_paths(self.log_dir, pid)
            for path, kind in ((fault_path, "fault"), (out_path, "out")):
                try:
                    text = path.read_text(errors="replace")
                except OSError:
                    text = ""
                if kind == "fault" and text.strip():
                    traceback = _traceback_summary(text)
                elif kind == "out" and text.strip():
                    output = _tail(text)
                try:
                    path.unlink()
                except OSError:
                    pass
        return traceback, output

    # -- the calls the gate makes ---------------------------------------------------------------------------
    def load(self, timeout: float | None = LOAD_TIMEOUT) -> worker_side.ImplInfo | WorkerDied:
        """Resolve and build the implementation in the worker; what it claims and whether it is available."""
        try:
            info = bounded(self.call(worker_side.load, self.label, self.log_dir, search_path(self.label),
                                     timeout=timeout))
        except (ImplementationRaised, MalformedReply) as error:
            return WorkerDied(f"loading {capped(self.label)!r} failed: {capped(str(error), MESSAGE_LIMIT)}")
        if isinstance(info, worker_side.ImplInfo):
            self.info = info
        return info

    def invoke(self, via: str, method: str, args: tuple, kwargs: dict, *, timeout: float | None,
               limit: float | None = None) -> Any:
        """One adapter method in the worker (of its counterpart `via`, if given): a CallOutcome, or WorkerDied."""
        try:
            return self.call(worker_side.invoke, self.label, self.log_dir, search_path(self.label),
                             _hang_dump(timeout), via, method, args, kwargs, timeout=timeout, limit=limit)
        except ImplementationRaised as error:
            return WorkerDied(f"the call escaped the worker with {error}")

    def apply(self, function: Callable[..., Any], *args: Any, timeout: float | None) -> Any:
        """function(implementation, *args) in the worker (a top-level, picklable function)."""
        return self.call(worker_side.call, self.label, self.log_dir, search_path(self.label), _hang_dump(timeout),
                         function, *args, timeout=timeout)

    def probe(self, label: str, timeout: float | None = LOAD_TIMEOUT) -> worker_side.ImplInfo | WorkerDied:
        """Load another implementation, `label`, in this worker (`mlpbench list` probes every one in one)."""
        try:
            return bounded(self.call(worker_side.load, label, self.log_dir, search_path(label), timeout=timeout))
        except (ImplementationRaised, MalformedReply) as error:
            return WorkerDied(f"loading {capped(label)!r} failed: {capped(str(error), MESSAGE_LIMIT)}")


def bounded(info: Any) -> Any:
    """What the implementation says about itself, its texts capped (`mlpbench.report_text.capped`) as they
    enter the gate: a 200,000-character name is not copied into every result and report."""
    if not isinstance(info, worker_side.ImplInfo):
        return info
    for attribute, limit in (("name", NAME_LIMIT), ("kind", NAME_LIMIT), ("device", NAME_LIMIT),
                             ("precision", NAME_LIMIT), ("description", MESSAGE_LIMIT), ("reason", MESSAGE_LIMIT),
                             ("unknown", 4000), ("load_error", MESSAGE_LIMIT), ("capabilities_error", MESSAGE_LIMIT)):
        value = getattr(info, attribute)
        setattr(info, attribute, capped(value if isinstance(value, str) else str(value), limit))
    if isinstance(info.conventions, Conventions) and len(str(info.conventions.name)) > NAME_LIMIT:
        info.conventions = dataclasses.replace(info.conventions, name=capped(str(info.conventions.name)))
    return info


def _hang_dump(timeout: float | None) -> float | None:
    """When the worker dumps its tracebacks before the supervisor kills it at `timeout`."""
    return None if timeout is None else max(timeout * 0.9, timeout - 1.0)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return False
