"""Markdown rendering of a benchmark result (tabulate, GitHub pipe tables)."""

from __future__ import annotations

from collections import defaultdict
from itertools import groupby

from tabulate import tabulate


def _table(rows, headers) -> str:
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def si(value: float | None, unit: str = "") -> str:
    """3 significant digits with an SI prefix: 12300 -> '12.3 k'."""
    if value is None:
        return "-"
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}".rstrip()


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    for factor, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if value >= factor:
            return f"{value / factor:.3g} {unit}"
    return f"{value / 1e-9:.3g} ns"


def percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def status_text(cell: dict) -> str:
    status = cell["status"].replace("_", " ")
    return status if status == "ok" else f"{status}: {cell['reason']}"


def environment_section(results: dict) -> str:
    env = results.get("environment", {})
    torch = env.get("torch", {})
    gpu = torch.get("gpu")
    if gpu:
        gpu_text = (
            f"{gpu['name']} (driver {gpu.get('driver') or 'unknown'}, CUDA {gpu.get('cuda_runtime')}, "
            f"compute capability {gpu.get('capability')})"
        )
    else:
        gpu_text = f"none — {torch.get('gpu_unavailable_reason', torch.get('reason', 'unknown'))}"
    git = env.get("git", {})
    flags = torch.get("precision_flags", {})
    rows = [
        ("created (UTC)", results.get("created_utc", "")),
        ("command", f"`{results.get('command', '')}`"),
        ("CPU", f"{env.get('cpu_model')} ({env.get('cpu_cores')} logical cores)"),
        ("CPU threads used", str(results.get("threads"))),
        ("GPU", gpu_text),
        ("torch", f"{torch.get('version', 'not installed')} (CUDA build: {torch.get('cuda_build')})"),
        ("numpy", env.get("numpy", "")),
        ("python / OS", f"{env.get('python')} / {env.get('platform')}"),
        ("precision flags", ", ".join(f"{k}={v}" for k, v in flags.items()) or "-"),
        ("git commit", f"{git.get('commit')}" + (" (uncommitted changes)" if git.get("dirty") else "")),
    ]
    return _table(rows, ["environment", ""])


def method_section(results: dict) -> str:
    grid = results.get("grid", {})
    return "\n".join(
        [
            f"- {results.get('flop_formula')}; achieved FLOP/s = FLOPs per step x steps / time.",
            "- samples/s = total samples / total timed time (all timed blocks).",
            f"- efficiency = achieved FLOP/s / GEMM peak of the same device and dtype measured in this run "
            f"({results.get('gemm_formula')}; torch.matmul, numpy.matmul for the NumPy reference; the best rate over "
            f"the sizes tried, each from its fastest timed block).",
            f"- A step = forward, loss, backward and optimizer step on data already on the device. Each timed "
            f"block is synchronize, k steps, synchronize; k grows until a block takes >= "
            f"{grid.get('min_block_seconds')} s; up to {grid.get('blocks')} blocks per cell after "
            f"{grid.get('warmup_seconds')} s of warm-up; median and IQR of the per-step times of the blocks; "
            f"cells whose IQR exceeds 10% of the median are marked (noisy).",
            f"- Cells estimated to need more than {grid.get('max_seconds_per_cell')} s are skipped (budget). "
            f"Only configurations that pass the quick conformance check are timed. Host-to-device copies are "
            f"timed separately.",
        ]
    )


def peaks_table(results: dict) -> str:
    rows = []
    for peak in results.get("peaks", {}).values():
        if peak.get("flop_per_s"):
            tried = ", ".join(f"{s['n']}: {si(s['flop_per_s'], 'FLOP/s')}" for s in peak.get("sizes", []))
            rows.append((peak["key"], str(peak["n"]), seconds(peak.get("fastest_s")), si(peak["flop_per_s"], "FLOP/s"),
                         tried))
        else:
            rows.append((peak["key"], "-", "-", f"unavailable: {peak.get('error')}", ""))
    return _table(rows, ["GEMM peak (backend-device-dtype-precision)", "best n", "fastest product", "peak",
                         "sizes tried"])


def conformance_table(results: dict) -> str:
    rows = [
        (key, "conforming" if v["conforming"] else f"not conforming: {v['first_failure']}")
        for key, v in results.get("conformance", {}).items()
    ]
    return _table(rows, ["implementation/dtype", "quick conformance check"])


def _series_rows(cells: list[dict], value_row) -> list[tuple]:
    """Rows per cell; a series whose cells all share one non-ok status collapses into one row."""
    def key(c):
        return (c["impl"], c["dtype"], c.get("optimizer"))

    rows = []
    for _, group in groupby(cells, key=key):
        group = list(group)
        statuses = {status_text(c) for c in group}
        if len(statuses) == 1 and group[0]["status"] != "ok":
            first = group[0]
            batches = f"{group[0]['batch_size']}..{group[-1]['batch_size']}" if len(group) > 1 else "all"
            rows.append(value_row(first, batches, collapsed=True))
        else:
            rows.extend(value_row(c, str(c["batch_size"]), collapsed=False) for c in group)
    return rows


def throughput_tables(results: dict) -> str:
    by_model = defaultdict(list)
    for cell in results["cells"]:
        if cell["kind"] == "train_step":
            by_model[cell["model"]].append(cell)

    def row(c, batch, collapsed):
        label = c["impl"] + ("" if c.get("precision", "ieee") == "ieee" else f" [{c['precision']}]")
        if c["status"] != "ok":
            return (label, c["dtype"], c["optimizer"], batch, status_text(c), "", "", "", "")
        iqr = percent(c["iqr_fraction"]) + (" (noisy)" if c["noisy"] else "")
        return (
            label, c["dtype"], c["optimizer"], batch, si(c["samples_per_s"]), seconds(c["median_s"]), iqr,
            si(c["flop_per_s"], "FLOP/s"), percent(c.get("efficiency")),
        )

    parts = []
    headers = ["impl", "dtype", "optimizer", "batch", "samples/s", "median step", "IQR", "FLOP/s", "efficiency"]
    for model, cells in by_model.items():
        first = cells[0]
        sizes = "-".join(map(str, first["sizes"]))
        parts.append(f"### {model} ({sizes}, {first['parameters']:,} parameters, loss {first['loss']})\n")
        parts.append(_table(_series_rows(cells, row), headers))
    return "\n\n".join(parts)


def transfer_table(results: dict) -> str:
    cells = [c for c in results["cells"] if c["kind"] == "h2d_transfer"]
    if not cells:
        return "No accelerator implementation in this run."

    def row(c, batch, collapsed):
        if c["status"] != "ok":
            return (c["impl"], c["model"], c["dtype"], batch, status_text(c), "", "")
        return (c["impl"], c["model"], c["dtype"], batch, si(c["bytes"], "B"), seconds(c["median_s"]),
                si(c["bytes_per_s"], "B/s"))

    rows = []
    for _, group in groupby(cells, key=lambda c: c["model"]):
        rows.extend(_series_rows(list(group), row))
    return _table(rows, ["impl", "model", "dtype", "batch", "bytes", "median copy", "bandwidth"])


def speedup_tables(results: dict) -> str:
    speed = results.get("speedups", [])
    if not speed:
        return "No accelerator implementation in this run."
    rows = []
    for _, group in groupby(speed, key=lambda r: (r["impl"], r["model"], r["dtype"], r["optimizer"])):
        group = list(group)
        reasons = {r["reason"] for r in group}
        if all(r["speedup"] is None for r in group) and len(reasons) == 1:
            r = group[0]
            rows.append((r["impl"], r["model"], r["dtype"], r["optimizer"], "all", "-", r["reason"]))
            continue
        for r in group:
            value = f"{r['speedup']:.3g}x" if r["speedup"] is not None else "-"
            rows.append((r["impl"], r["model"], r["dtype"], r["optimizer"], str(r["batch_size"]), value,
                         r["reason"] or f"vs {r['cpu_impl']}"))
    return _table(rows, ["accelerator", "model", "dtype", "optimizer", "batch", "speedup", "note"])


def crossover_table(results: dict) -> str:
    rows = [
        (r["impl"], r["model"], r["dtype"], r["optimizer"], r["text"]) for r in results.get("crossovers", [])
    ]
    if not rows:
        return "No accelerator implementation in this run."
    return _table(rows, ["accelerator", "model", "dtype", "optimizer", "crossover batch size (GPU faster from)"])


def warnings_section(results: dict) -> str:
    noisy = [c for c in results["cells"] if c["status"] == "ok" and c.get("noisy")]
    if not noisy:
        return "None: every timed cell has IQR <= 10% of its median."
    return "\n".join(f"- {c['id']}: IQR {percent(c['iqr_fraction'])} of the median" for c in noisy)


def markdown_report(results: dict, plots: list[str] | None = None) -> str:
    from mlpbench.bench.engines import engines_table

    sections = [
        "# mlpbench training-step benchmark",
        environment_section(results),
        "## Method",
        method_section(results),
        "## Quick conformance checks (only conforming configurations are timed)",
        conformance_table(results),
        "## GEMM peak (same device, same run)",
        peaks_table(results),
        "## Training-step throughput",
        throughput_tables(results),
        "## Host-to-device transfer (timed separately)",
        transfer_table(results),
        "## Fastest conforming engine per cell (compile time apart from step time)",
        engines_table(results),
        "## GPU/CPU speedup per cell (accelerator samples/s over the fastest CPU implementation)",
        speedup_tables(results),
        "## Crossover batch size per model",
        crossover_table(results),
        "## Spread warnings",
        warnings_section(results),
    ]
    if plots:
        sections += ["## Plots", "\n".join(f"![{name}]({name})" for name in plots)]
    return "\n\n".join(sections) + "\n"
