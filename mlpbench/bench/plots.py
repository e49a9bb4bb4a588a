"""PNG plots of a benchmark result (matplotlib, Agg backend): throughput and GPU/CPU speedup against batch
size, one panel per model. Only measured cells are drawn; nothing is interpolated or extrapolated."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from mlpbench.atomic import write_bytes_atomic

THROUGHPUT_PNG = "throughput.png"
SPEEDUP_PNG = "speedup.png"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    write_bytes_atomic(path, buffer.getvalue())


def _panels(plt, n: int):
    fig, axes = plt.subplots(1, max(n, 1), figsize=(5.2 * max(n, 1), 4.0), squeeze=False)
    return fig, list(axes[0])


def throughput_plot(results: dict, path: Path) -> Path:
    plt = _pyplot()
    by_model: dict[str, dict[tuple, list]] = defaultdict(lambda: defaultdict(list))
    unavailable: dict[str, set[str]] = defaultdict(set)
    for cell in results["cells"]:
        if cell["kind"] != "train_step":
            continue
        label = (cell["impl"], cell["device"], cell["dtype"], cell["optimizer"])
        if cell["status"] == "ok":
            by_model[cell["model"]][label].append((cell["batch_size"], cell["samples_per_s"]))
        else:
            by_model[cell["model"]].setdefault(label, [])
            if cell["status"] == "unavailable":
                unavailable[cell["model"]].add(cell["impl"])
    models = list(by_model)
    fig, axes = _panels(plt, len(models))
    for ax, model in zip(axes, models):
        for (impl, device, dtype, optimizer), points in by_model[model].items():
            if not points:
                continue
            points.sort()
            style = "-" if device == "cpu" else "--"
            ax.plot(*zip(*points), style, marker="o", label=f"{impl} ({device}) {dtype} {optimizer}")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("batch size")
        ax.set_ylabel("samples/s")
        ax.set_title(model)
        ax.grid(True, which="both", alpha=0.3)
        if unavailable[model]:
            ax.text(0.02, 0.02, "unavailable: " + ", ".join(sorted(unavailable[model])), transform=ax.transAxes,
                    fontsize=8, color="gray")
        if ax.lines:
            ax.legend(fontsize=7)
    fig.suptitle("training-step throughput")
    _save(fig, path)
    plt.close(fig)
    return path


def speedup_plot(results: dict, path: Path) -> Path:
    plt = _pyplot()
    series: dict[str, dict[tuple, list]] = defaultdict(lambda: defaultdict(list))
    reasons: dict[str, set[str]] = defaultdict(set)
    for row in results.get("speedups", []):
        key = (row["impl"], row["dtype"], row["optimizer"])
        if row["speedup"] is not None:
            series[row["model"]][key].append((row["batch_size"], row["speedup"]))
        else:
            series[row["model"]].setdefault(key, [])
            reasons[row["model"]].add(f"{row['impl']}: {row['reason']}")
    crossover = {(c["impl"], c["model"], c["dtype"], c["optimizer"]): c for c in results.get("crossovers", [])}
    models = list(series) or ["(no accelerator implementation in this run)"]
    fig, axes = _panels(plt, len(models))
    for ax, model in zip(axes, models):
        for (impl, dtype, optimizer), points in series.get(model, {}).items():
            if not points:
                continue
            points.sort()
            (line,) = ax.plot(*zip(*points), marker="o", label=f"{impl} {dtype} {optimizer}")
            c = crossover.get((impl, model, dtype, optimizer), {})
            if c.get("crossover") is not None:
                ax.axvline(c["crossover"], color=line.get_color(), linestyle=":",
                           label=f"crossover at batch {c['crossover']}")
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("batch size")
        ax.set_ylabel("speedup (accelerator / best CPU)")
        ax.set_title(model)
        ax.grid(True, which="both", alpha=0.3)
        if not any(series.get(model, {}).values()):
            text = "\n".join(sorted(reasons.get(model, []))) or "no accelerator timings"
            ax.text(0.5, 0.5, "no GPU numbers\n" + _wrap(text), transform=ax.transAxes, ha="center",
                    va="center", fontsize=8, color="gray")
            ax.set_yticks([])
        elif ax.lines:
            ax.legend(fontsize=7)
    fig.suptitle("GPU/CPU speedup")
    _save(fig, path)
    plt.close(fig)
    return path


def _wrap(text: str, width: int = 60) -> str:
    import textwrap

    return "\n".join(textwrap.fill(line, width) for line in text.splitlines())


def write_plots(run_dir: Path, results: dict) -> list[str]:
    """Write both PNGs into run_dir; returns their file names."""
    run_dir = Path(run_dir)
    throughput_plot(results, run_dir / THROUGHPUT_PNG)
    speedup_plot(results, run_dir / SPEEDUP_PNG)
    return [THROUGHPUT_PNG, SPEEDUP_PNG]
