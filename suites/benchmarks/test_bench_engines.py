"""The benchmark's "fastest conforming engine" table: only timed, conforming IEEE cells compete, the speedup is
over torch eager on the same device, and compile time is reported apart from the step's samples/s."""

from __future__ import annotations

from types import SimpleNamespace

from mlpbench.bench.engines import engines_table, fastest_engines
from mlpbench.bench.records import CellKind, CellResult, CellStatus

STATUS = {"ok": CellStatus.OK, "not_conforming": CellStatus.NOT_CONFORMING}


def _cell(impl: str, samples: float | None, status: str = "ok", compile_s: float | None = None,
          device: str = "cpu", precision: str = "ieee") -> CellResult:
    return CellResult(id=f"step/{impl}", kind=CellKind.TRAIN_STEP, impl=impl, device=device, precision=precision,
                      model="m", sizes=(2, 2), parameters=6, batch_size=32, dtype="float32", optimizer="adam",
                      loss="cross_entropy", threads=None, status=STATUS[status], samples_per_s=samples,
                      compile_s=compile_s)


def test_fastest_conforming_engine_and_its_speedup_over_torch_eager() -> None:
    cells = [
        _cell("torch-cpu", 1000.0),
        _cell("torch-cpu-compile", 3000.0, compile_s=17.0),
        _cell("jax-cpu", 2000.0, compile_s=0.4),
        _cell("keras", 9000.0, status="not_conforming"),  # failed its quick check: never the fastest
    ]
    (row,) = fastest_engines(SimpleNamespace(cells=cells))
    assert row["fastest"] == "torch-cpu-compile"
    assert row["speedup"] == 3000.0 / 1000.0
    assert row["compile_s"] == 17.0 and row["samples_per_s"] == 3000.0  # compile time apart from throughput
    assert set(row["engines"]) == {"torch-cpu", "torch-cpu-compile", "jax-cpu"}
    table = engines_table(SimpleNamespace(cells=cells))
    assert "torch-cpu-compile" in table and "3x" in table and "17 s" in table


def test_devices_and_reduced_precision_are_kept_apart() -> None:
    cells = [_cell("torch-cpu", 1000.0), _cell("torch-cuda", 5000.0, device="cuda"),
             _cell("torch-cuda-tf32", 9000.0, device="cuda", precision="tf32"),
             _cell("jax-cuda", 6000.0, device="cuda")]
    rows = {r["device"]: r for r in fastest_engines(SimpleNamespace(cells=cells))}
    assert rows["cpu"]["fastest"] == "torch-cpu" and rows["cpu"]["speedup"] == 1.0
    assert rows["cuda"]["fastest"] == "jax-cuda" and rows["cuda"]["speedup"] == 6000.0 / 5000.0


def test_no_baseline_means_no_speedup() -> None:
    (row,) = fastest_engines(SimpleNamespace(cells=[_cell("jax-cpu", 2000.0)]))
    assert row["speedup"] is None and row["baseline"] is None
    assert engines_table(SimpleNamespace(cells=[])) == "No timed, conforming cell."
