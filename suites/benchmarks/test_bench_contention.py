"""The machine's other load (mlpbench.bench.contention) on made-up /proc counters: what a reading parses, the
contended rule, the default thread count under oversubscription, the busy warning, and a cell's load fields
in every output format. Nothing here reads the real clock or the real load."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

import pytest

from mlpbench.bench import contention
from mlpbench.bench.command import choose_threads
from mlpbench.bench.contention import CONTENDED_SHARE, Load, LoadMeter, ProcReader, default_threads, share_taken
from mlpbench.bench.derive import with_timing
from mlpbench.bench.records import CellKind, CellResult, CellStatus, csv_columns
from mlpbench.bench.results import csv_text
from mlpbench.bench.timing import BlockTiming

HZ = 100


class FakeProc:
    """/proc/stat and /proc/self/stat with counters the test moves, and a clock."""

    def __init__(self, cpus: int = 2) -> None:
        self.busy = [0] * cpus  # per CPU: busy ticks, spread over user and steal to check both count
        self.own = 0
        self.threads = 3
        self.now = 100.0

    def read(self, path: str) -> str:
        if path == "/proc/stat":
            lines = [f"cpu  {sum(self.busy)} 0 0 999 0 0 0 0 0 0"]
            lines += [f"cpu{i} {b - b // 4} 0 0 999 7 0 0 {b // 4} 5 0" for i, b in enumerate(self.busy)]
            return "\n".join(lines + ["intr 1 2 3", "ctxt 9"]) + "\n"
        assert path == "/proc/self/stat"
        fields = ["S"] + ["0"] * 10 + [str(self.own - self.own // 3), str(self.own // 3)] + ["0"] * 4
        fields += [str(self.threads)] + ["0"] * 30
        return "4242 (python (spaced) name) " + " ".join(fields) + "\n"

    def reader(self) -> ProcReader:
        return ProcReader(read=self.read, clock=lambda: self.now, cpus=frozenset(range(len(self.busy))),
                          ticks_per_s=HZ)

    def run(self, seconds: float, own_ticks: int, others_ticks: list[int]) -> None:
        """`seconds` pass; this process uses own_ticks (on CPU 0), others use others_ticks per CPU."""
        self.now += seconds
        self.own += own_ticks
        self.busy[0] += own_ticks
        for i, ticks in enumerate(others_ticks):
            self.busy[i] += ticks


def test_a_reading_is_busy_ticks_minus_own_ticks_over_the_interval() -> None:
    proc = FakeProc()
    with LoadMeter(proc.reader()) as meter:
        proc.threads = 5
        proc.run(2.0, own_ticks=180, others_ticks=[10, 150])  # others: 1.6 core-seconds over 2 s
    load = meter.load
    assert load is not None
    assert load.seconds == 2.0 and load.cpus == 2 and load.threads == 5
    assert load.own_cores == pytest.approx(0.9) and load.others_cores == pytest.approx(0.8)


def test_only_the_cpus_this_process_may_run_on_count() -> None:
    proc = FakeProc(cpus=4)
    reader = replace(proc.reader(), cpus=frozenset({0, 1}))
    start = reader.reading()
    proc.run(1.0, own_ticks=50, others_ticks=[0, 0, 100, 100])  # CPUs 2 and 3 busy, not ours
    end = reader.reading()
    assert start is not None and end is not None
    assert Load.between(start, end).others_cores == pytest.approx(0.0)


def test_unreadable_proc_is_not_measured() -> None:
    def missing(path: str) -> str:
        raise FileNotFoundError(path)

    reader = ProcReader(read=missing, clock=lambda: 0.0, cpus=frozenset({0}), ticks_per_s=HZ)
    assert reader.reading() is None
    with LoadMeter(reader) as meter:
        pass
    assert meter.load is None
    assert contention.measure_load(0.5, reader, sleep=lambda s: None) is None
    assert default_threads(None, 8) == 8  # nothing measured: every core


@pytest.mark.parametrize(
    ("others", "cpus", "needed", "share"),
    [
        (1.0, 2, 1, 0.0),  # one core busy, the cell's one core free
        (4 / 3, 2, 1, 1 / 3),  # two hogs and a one-thread cell share 2 cores: the cell gets 2/3 of one
        (1.0, 2, 2, 0.5),  # a two-thread cell beside one busy core
        (0.05, 2, 2, 0.025),
        (2.5, 2, 1, 1.0),  # at most all of them (a reading past the cores is the counters' resolution)
    ],
)
def test_share_of_the_needed_cores_that_others_took(others, cpus, needed, share) -> None:
    assert share_taken(others, cpus, needed) == pytest.approx(share)


def test_default_threads_are_the_most_the_start_load_leaves_uncontended() -> None:
    def load(others: float, cpus: int = 2) -> Load:
        return Load(0.3, cpus, others, 0.0, 1)

    assert default_threads(load(0.0), 2) == 2
    assert default_threads(load(2 * CONTENDED_SHARE), 2) == 2  # exactly the share: not contended
    assert default_threads(load(2 * CONTENDED_SHARE + 0.01), 2) == 1
    assert default_threads(load(1.0), 2) == 1
    assert default_threads(load(2.0), 2) == 1  # never below one
    assert default_threads(load(5.0, 16), 16) == 12  # 12 threads lose (5 - 4) / 12 = 8 %; 13 would lose 2/13
    for others in (0.0, 0.5, 1.0, 3.7, 9.9):
        threads = default_threads(load(others, 16), 16)
        assert share_taken(others, 16, threads) <= CONTENDED_SHARE or threads == 1
        assert threads == 16 or share_taken(others, 16, threads + 1) > CONTENDED_SHARE


def test_busy_warning_is_one_line_only_when_the_start_load_contends_the_threads() -> None:
    idle = Load(0.3, 2, 0.05, 0.0, 1)
    busy = Load(0.3, 2, 1.9, 0.0, 1)
    assert contention.busy_warning(idle, 2, chosen=True) is None
    assert contention.busy_warning(None, 2, chosen=True) is None
    text = contention.busy_warning(busy, 1, chosen=True)
    assert text is not None and "\n" not in text and "1.90 of its 2 cores" in text and "1 thread" in text
    explicit = contention.busy_warning(busy, 2, chosen=False)
    assert explicit is not None and "--threads 2" in explicit


def _args(threads=None, resume=False) -> argparse.Namespace:
    return argparse.Namespace(threads=threads, resume=resume)


def test_bench_threads_follow_the_start_load_unless_given(tmp_path) -> None:
    busy = Load(0.3, 2, 1.2, 0.0, 1)
    threads, note, warning = choose_threads(_args(), tmp_path, 2, measure=lambda: busy)
    assert threads == 1 and "cores free at the start" in note and warning is not None
    threads, note, warning = choose_threads(_args(threads=2), tmp_path, 2, measure=lambda: busy)
    assert threads == 2 and note == "--threads" and warning is not None and "--threads 2" in warning
    idle = Load(0.3, 2, 0.0, 0.0, 1)
    assert choose_threads(_args(), tmp_path, 2, measure=lambda: idle)[:1] == (2,)
    (tmp_path / "settings.json").write_text(json.dumps(
        {"grid": {}, "threads": 2, "libraries": {}, "device": {}}))
    threads, note, _ = choose_threads(_args(resume=True), tmp_path, 2, measure=lambda: busy)
    assert threads == 2 and note == "the resumed run's"  # a resumed run keeps its threads (settings must match)


def _cell(device: str = "cpu", threads: int | None = 1) -> CellResult:
    return CellResult(id="step/x/m/float32/sgd/b8", kind=CellKind.TRAIN_STEP, impl="x", device=device,
                      precision="ieee", model="seed-10-64-32-1", sizes=(10, 64, 32, 1), parameters=2817,
                      batch_size=8, dtype="float32", optimizer="sgd", loss="binary_cross_entropy_with_logits",
                      threads=threads, status=CellStatus.OK)


def test_a_cell_records_the_load_and_is_contended_past_the_share() -> None:
    timing = BlockTiming(steps_per_block=10, block_seconds=[0.01] * 5)
    fair = with_timing(_cell(), replace(timing, load=Load(0.5, 2, 1.0, 1.0, 4)))
    assert fair.contended is False and fair.contention_share == 0.0 and fair.engine_threads == 4
    hogged = with_timing(_cell(), replace(timing, load=Load(0.5, 2, 4 / 3, 2 / 3, 4)))
    assert hogged.contended is True and hogged.contention_share == pytest.approx(1 / 3)
    assert hogged.load_text.startswith("contended: others 1.33 cores, 33% of the 1")
    two = with_timing(_cell(threads=2), replace(timing, load=Load(0.5, 2, 1.0, 1.0, 4)))
    assert two.contended is True and two.contention_share == pytest.approx(0.5)  # it needed both cores
    gpu = with_timing(_cell("cuda", None), replace(timing, load=Load(0.5, 2, 1.0, 1.0, 4)))
    assert gpu.contended is False  # an accelerator cell needs its one host thread
    unmeasured = with_timing(_cell(), timing)
    assert unmeasured.contended is None and unmeasured.load_text == "not measured"


def test_load_fields_are_in_the_json_and_the_csv_and_old_files_still_load() -> None:
    timing = BlockTiming(steps_per_block=10, block_seconds=[0.01] * 5, load=Load(0.5, 2, 4 / 3, 2 / 3, 4))
    cell = with_timing(_cell(), timing)
    data = cell.to_dict()
    assert data["contended"] is True and data["others_cores"] == pytest.approx(4 / 3)
    assert CellResult.from_dict(data) == cell
    for name in ("contended", "contention_share", "others_cores", "own_cores", "engine_threads", "load_seconds"):
        assert name in csv_columns()
    header, row = csv_text([cell]).splitlines()
    assert dict(zip(header.split(","), row.split(",")))["contended"] == "True"
    old = {k: v for k, v in data.items() if k not in {"contended", "contention_share", "others_cores", "own_cores",
                                                      "engine_threads", "load_seconds"}}
    assert CellResult.from_dict(old).contended is None  # a file written before these fields: not measured
