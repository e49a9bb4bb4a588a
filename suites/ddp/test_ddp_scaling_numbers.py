"""The scaling benchmark's derived numbers, from block times given here (no timing involved)."""

from __future__ import annotations

import math

import pytest

from mlpbench.bench.scaling import markdown, summarize
from mlpbench.cli import main


def ranks(step: list[float], local: list[float], world_size: int) -> list[dict]:
    return [{"step_s": step, "local_step_s": local, "rows": 8, "threads": 1} for _ in range(world_size)]


def test_a_block_takes_as_long_as_its_slowest_rank_and_the_median_block_counts() -> None:
    slow = [{"step_s": [1.0, 3.0, 2.0], "local_step_s": [0.5, 0.5, 0.5], "rows": 8, "threads": 1},
            {"step_s": [1.5, 1.0, 2.5], "local_step_s": [0.5, 1.0, 0.5], "rows": 8, "threads": 1}]
    row = summarize(2, slow, 8, base_samples_per_s=None)
    assert row.step_s == 2.5  # block maxima 1.5, 3.0, 2.5
    assert row.local_step_s == 0.5
    assert row.all_reduce_share == pytest.approx((2.5 - 0.5) / 2.5)
    assert math.isnan(row.efficiency)


def test_efficiency_is_throughput_over_world_size_times_the_single_rank_throughput() -> None:
    one = summarize(1, ranks([0.01] * 3, [0.008] * 3, 1), 64, base_samples_per_s=None)
    one = summarize(1, ranks([0.01] * 3, [0.008] * 3, 1), 64, base_samples_per_s=one.samples_per_s)
    two = summarize(2, ranks([0.0125] * 3, [0.01] * 3, 2), 64, base_samples_per_s=one.samples_per_s)
    assert one.samples_per_s == pytest.approx(6400.0) and one.efficiency == pytest.approx(1.0)
    assert two.samples_per_s == pytest.approx(2 * 64 / 0.0125)
    assert two.efficiency == pytest.approx((2 * 64 / 0.0125) / (2 * 6400.0))  # 0.8
    table = markdown([one, two], {"impl": "torch-ddp", "model": "4-2", "batch_per_rank": 64, "dtype": "float32",
                                  "optimizer": "sgd", "threads_per_rank": 1, "cpu_count": 2})
    assert "| 2 | 12.5 ms" in table and "| 0.80 |" in table and "2 CPU cores" in table


@pytest.mark.parametrize("argv", [["--world-sizes", "0"], ["--model", "4"], ["--world-sizes", "two"],
                                  ["--steps", "0"], ["--warmup", "-1"]])
def test_bad_options_are_usage_errors(argv: list[str], capsys) -> None:
    assert main(["scaling", *argv]) == 2
    assert "error" in capsys.readouterr().err
