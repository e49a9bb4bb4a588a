"""The benchmark harness, split by responsibility (measurement apart from rendering, as in
torch.utils.benchmark):

- plan.py: the cells of a run, their ids, and what --resume may reuse (settings must match);
- budget.py: memory and time estimates that decide whether a cell is run;
- measure.py, timing.py, peak.py: measurement (plain data in, plain timings out: one cell, one GEMM-peak pass);
- flops.py, derive.py: FLOP counts and the derived numbers of a cell (throughput, FLOP/s, efficiency);
- records.py: the typed records (CellResult, CellStatus, Peak, RunSettings, BenchResults) every later stage reads;
- results.py: the files of a run directory (JSON, CSV);
- runner.py: the run, cell by cell; command.py: `mlpbench bench`;
- tables.py, plots.py, speedup.py, render.py: Markdown, PNG, GPU/CPU speedup and crossover;
- report_command.py, compare.py: `mlpbench report` (re-render, compare two runs);
- pytest_timer.py: pytest-benchmark with the same synchronized timing.
"""
