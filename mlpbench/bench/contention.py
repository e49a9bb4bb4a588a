"""The machine's other load, measured from /proc, and the three rules that read it: which cell is contended,
how many CPU threads a run uses by default, and when the machine is too busy to start without a warning.

A reading is the CPU time the machine's CPUs (those this process may run on) have spent busy so far, from
/proc/stat (user + nice + system + irq + softirq + steal, in clock ticks: steal is a hypervisor running
something else, another process as far as this one is concerned), and this process's own CPU time (all its
threads, utime + stime of /proc/<pid>/stat). Over an interval of W seconds,

    others' cores = (busy - own) / W       the average number of cores everything else kept busy
    own cores     = own / W                the average number of cores the measured process kept busy

both to about (cpus + 1) ticks / W (each counter moves in whole ticks, 1/100 s on Linux).

The rules (one share, `CONTENDED_SHARE`):
- A cell needs `needed` cores: its thread count on the CPU, one (the host thread that launches the work) on an
  accelerator. The others fit in the `cpus - needed` cores the cell leaves them; what they used beyond that was
  taken from the cell's cores. share = max(0, others' cores - (cpus - needed)) / needed. The cell is
  *contended* when share > CONTENDED_SHARE.
- The default thread count is the largest T (1 <= T <= cpus) whose cell the load measured at the start of the
  run would leave uncontended (share <= CONTENDED_SHARE), so it falls to the cores that are free instead of
  oversubscribing them; at least 1.
- The machine is *busy* when the load measured at the start would contend a cell of the run's thread count;
  `mlpbench bench` then prints one warning line before it starts.
Where /proc cannot be read (not Linux) nothing is measured: the cells say "not measured" (contended is None)
and the default thread count is every core.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

CONTENDED_SHARE = 0.10
"""Others may take at most this share of the cores a cell needs: a cell whose cores lost more than 10 % of their
time can be more than 10 % slow, the margin the noisy flag (timing.SPREAD_WARNING) and the comparison's
threshold (compare.DEFAULT_THRESHOLD) also allow."""
START_WINDOW_S = 0.3
"""Seconds over which the load is measured before a run (the default threads and the busy warning)."""
BUSY_FIELDS = (0, 1, 2, 5, 6, 7)
"""Columns of a /proc/stat cpu line that are busy time: user, nice, system, irq, softirq, steal (guest time is
already inside user and nice; idle and iowait are idle)."""


@dataclass(frozen=True)
class CpuReading:
    """Cumulative CPU time at one moment, in seconds."""

    wall_s: float  # time.monotonic()
    busy_s: float  # busy time of the machine's CPUs (those this process may run on), everything on them
    own_s: float  # CPU time of the measured process, all its threads
    cpus: int
    threads: int  # OS threads of the measured process at this moment


@dataclass(frozen=True)
class Load:
    """What the machine's CPUs did over an interval: the measured process and everything else."""

    seconds: float
    cpus: int
    others_cores: float
    own_cores: float
    threads: int  # OS threads of the measured process (the more of the two readings)

    @classmethod
    def between(cls, start: CpuReading, end: CpuReading) -> Load:
        seconds = max(end.wall_s - start.wall_s, 1e-9)
        others = max(0.0, (end.busy_s - start.busy_s) - (end.own_s - start.own_s))
        return cls(seconds, end.cpus, others / seconds, max(0.0, end.own_s - start.own_s) / seconds,
                   max(start.threads, end.threads))

    def share_taken(self, needed: int) -> float:
        return share_taken(self.others_cores, self.cpus, needed)

    def contended(self, needed: int) -> bool:
        return self.share_taken(needed) > CONTENDED_SHARE


def share_taken(others_cores: float, cpus: int, needed: int) -> float:
    """The share of the `needed` cores that the others took: what they used beyond the cpus - needed cores
    left to them, over needed (0 when they fit in the rest; at most 1, all of them: a reading above is the
    counters' resolution)."""
    needed = max(1, min(needed, cpus))
    return min(1.0, max(0.0, others_cores - (cpus - needed)) / needed)


def default_threads(load: Load | None, cpus: int) -> int:
    """The largest thread count that `load` (measured at the start) leaves uncontended; every core when the
    load is not measured; at least 1."""
    if load is None:
        return cpus
    for threads in range(cpus, 0, -1):
        if share_taken(load.others_cores, load.cpus, threads) <= CONTENDED_SHARE:
            return threads
    return 1


def busy_warning(load: Load | None, threads: int, chosen: bool) -> str | None:
    """The one line printed before a run on a busy machine (None when it is not busy or nothing was measured);
    `chosen`: the thread count came from the default rule (not --threads)."""
    if load is None or not load.contended(threads):
        return None
    how = (f"timing with {threads} thread{'s' if threads > 1 else ''}, the cores left free (--threads N to choose)"
           if chosen else f"--threads {threads} needs {threads} of them")
    return (f"warning: the machine is busy: other processes kept {load.others_cores:.2f} of its {load.cpus} cores "
            f"busy over {load.seconds:.1f} s; {how}; cells where others take more than {CONTENDED_SHARE:.0%} of "
            f"the cores a cell needs are marked contended and never win a ranking")


def thread_note(load: Load | None, threads: int, chosen: bool) -> str:
    """How the run's thread count was chosen, for the report."""
    if not chosen:
        return "--threads"
    if load is None:
        return "every core (the load could not be measured here)"
    return (f"default: the cores free at the start (others kept {load.others_cores:.2f} of {load.cpus} busy over "
            f"{load.seconds:.1f} s; the most threads such load leaves uncontended)")


# -- reading /proc ---------------------------------------------------------------------------------------------


def _read_text(path: str) -> str:
    with open(path, encoding="ascii", errors="replace") as handle:
        return handle.read()


@dataclass
class ProcReader:
    """Readings from /proc/stat and /proc/<pid>/stat (Linux); `read`, `clock` and `cpus` are injectable so the
    rules can be tested on made-up counters."""

    pid: str = "self"
    read: Callable[[str], str] = _read_text
    clock: Callable[[], float] = time.monotonic
    cpus: frozenset[int] | None = None  # default: the CPUs this process may run on
    ticks_per_s: float = 0.0  # default: os.sysconf("SC_CLK_TCK")

    def reading(self) -> CpuReading | None:
        """The counters now; None where they cannot be read (not Linux, or an unexpected format)."""
        try:
            cpus = self.cpus if self.cpus is not None else frozenset(os.sched_getaffinity(0))
            hz = self.ticks_per_s or float(os.sysconf("SC_CLK_TCK"))
            wall = self.clock()
            busy = _busy_ticks(self.read("/proc/stat"), cpus)
            own, threads = _own_ticks(self.read(f"/proc/{self.pid}/stat"))
        except (OSError, ValueError, IndexError, AttributeError):
            return None
        return CpuReading(wall, busy / hz, own / hz, len(cpus), threads)


def _busy_ticks(stat: str, cpus: frozenset[int]) -> int:
    total, seen = 0, 0
    for line in stat.splitlines():
        name, _, rest = line.partition(" ")
        if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
            values = [int(v) for v in rest.split()]
            total += sum(values[i] for i in BUSY_FIELDS if i < len(values))
            seen += 1
    if seen != len(cpus):
        raise ValueError(f"/proc/stat lists {seen} of the {len(cpus)} CPUs")
    return total


def _own_ticks(stat: str) -> tuple[int, int]:
    """utime + stime and num_threads of a /proc/<pid>/stat line (fields 14, 15 and 20; the name in parentheses
    may hold spaces, so fields are counted after its closing parenthesis)."""
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12]), int(fields[17])


def measure_load(seconds: float = START_WINDOW_S, reader: ProcReader | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> Load | None:
    """The machine's load over the next `seconds` (this process sleeps meanwhile); None where not measured."""
    reader = reader or ProcReader()
    start = reader.reading()
    if start is None:
        return None
    sleep(seconds)
    end = reader.reading()
    return None if end is None else Load.between(start, end)


class LoadMeter:
    """The load while something runs: `with LoadMeter() as meter: ...; meter.load` (None: not measured)."""

    def __init__(self, reader: ProcReader | None = None) -> None:
        self.reader = reader or ProcReader()
        self.load: Load | None = None
        self._start: CpuReading | None = None

    def __enter__(self) -> LoadMeter:
        self._start = self.reader.reading()
        return self

    def __exit__(self, *exc: object) -> None:
        end = self.reader.reading()
        if self._start is not None and end is not None:
            self.load = Load.between(self._start, end)
