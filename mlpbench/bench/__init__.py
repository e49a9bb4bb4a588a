"""The benchmark harness: `mlpbench bench` (command.py) times training steps over the catalogue's grid
(runner.py, timing.py), derives throughput, FLOP/s and efficiency (flops.py, peak.py, speedup.py), stores
results (results.py) and renders them (tables.py, plots.py, render.py); `mlpbench report` (report_command.py)
re-renders saved results and compares two runs (compare.py); pytest_timer.py runs pytest-benchmark with the
same synchronized timing."""
