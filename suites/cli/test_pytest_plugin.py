"""The pytest plugin (`pytest --mlpbench-impl TARGET`) and the test-file helper (`mlpbench.testing`), as an
adapter author uses them: pytest in a subprocess, in a folder outside the repository holding the README's
adapter (`my_mlp.py`, claiming sigmoid, MSE and SGD in float64) and decoy modules (suites/cli/author_folder.py).

What the items must be is derived from the adapter's own claim and the catalogue (`expected_counts`), never
written down: one item per case of the selected areas and claimed dtype, those the claim selects passing and the
rest skipped as not claimed. The runs are kept to one or two areas (a second or two each).
"""

from __future__ import annotations

import re
import runpy
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest
from author_folder import (
    SIGMOID_GRAD,
    author_env,
    make_author_folder,
    one_bug_source,
    pytest_command,
    readme_adapter_source,
)

from mlpbench.catalogue.conformance import select_cases
from mlpbench.conformance.checks.engine import claimed_dtypes
from mlpbench.conformance.items import runnable_count
from mlpbench.impls.capabilities import Capabilities

AREAS = ("activations", "optimizers")


@dataclass(frozen=True)
class Counts:
    """What a JUnit XML file (or a derivation) says: tests, failures (with errors) and skipped."""

    tests: int
    failures: int
    skipped: int

    @classmethod
    def of_junit(cls, path: Path) -> Counts:
        root = ET.parse(path).getroot()
        suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
        total = {key: sum(int(suite.get(key, "0")) for suite in suites) for key in ("tests", "failures", "errors",
                                                                                     "skipped")}
        return cls(total["tests"], total["failures"] + total["errors"], total["skipped"])


def adapter_claim(folder: Path) -> Capabilities:
    """The claim of the adapter in `folder` (its module run here, as a test may: the plugin never does)."""
    return runpy.run_path(str(folder / "my_mlp.py"))["make"]().capabilities()


def expected_counts(caps: Capabilities, areas: tuple[str, ...], name_part: str = "") -> Counts:
    """One item per case (whose id holds `name_part`) and claimed dtype; the unclaimed ones skipped."""
    cases = [case for case in select_cases(areas, caps=caps) if name_part in case.id]
    dtypes = claimed_dtypes(caps)
    return Counts(len(cases) * len(dtypes), 0, len(cases) * len(dtypes) - runnable_count(caps, cases, dtypes))


def run_pytest(folder: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(pytest_command(*argv), cwd=folder, env=author_env(), capture_output=True, text=True,
                          timeout=300)


def area_args(areas: tuple[str, ...]) -> list[str]:
    return [word for area in areas for word in ("--mlpbench-area", area)]


@pytest.fixture(scope="module")
def author(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_author_folder(tmp_path_factory.mktemp("plugin") / "my project")


@pytest.fixture(scope="module")
def buggy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_author_folder(tmp_path_factory.mktemp("plugin") / "buggy project", one_bug_source())


def test_the_readme_adapter_passes_one_item_per_check(author: Path, tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    ran = run_pytest(author, "--mlpbench-impl", "my_mlp:make", *area_args(AREAS), f"--junitxml={junit}", "-v",
                     "-rs")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    expected = expected_counts(adapter_claim(author), AREAS)
    assert expected.tests > expected.skipped > 0
    assert Counts.of_junit(junit) == expected
    assert "mlpbench::activations/sigmoid[float64] PASSED" in ran.stdout
    assert "mlpbench::activations/tanh[float64] SKIPPED (not claimed" in ran.stdout
    # -rs: each skip's reason, counted (`SKIPPED [n]`)
    assert re.search(r"^SKIPPED \[\d+\] mlpbench: not claimed: activation 'tanh'$", ran.stdout, flags=re.MULTILINE)


def test_k_selects_among_the_items(author: Path, tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    ran = run_pytest(author, "--mlpbench-impl", "my_mlp:make", *area_args(AREAS), "-k", "sgd and float64",
                     f"--junitxml={junit}")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    expected = expected_counts(adapter_claim(author), AREAS, name_part="sgd")
    assert 0 < expected.tests < expected_counts(adapter_claim(author), AREAS).tests
    assert Counts.of_junit(junit) == expected


def test_the_items_run_under_xdist(author: Path, tmp_path: Path) -> None:
    pytest.importorskip("xdist")
    junit = tmp_path / "junit.xml"
    ran = run_pytest(author, "--mlpbench-impl", "my_mlp:make", "--mlpbench-area", "activations", "-n", "2",
                     f"--junitxml={junit}")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "2 workers" in ran.stdout
    assert Counts.of_junit(junit) == expected_counts(adapter_claim(author), ("activations",))


def test_a_one_bug_copy_fails_with_the_first_diverging_quantity_and_a_repro_that_runs(
    buggy: Path, tmp_path: Path
) -> None:
    junit = tmp_path / "junit.xml"
    ran = run_pytest(buggy, "--mlpbench-impl", "my_mlp:make", "--mlpbench-area", "activations",
                     f"--junitxml={junit}")
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "FAILED mlpbench::activations/sigmoid[float64]" in ran.stdout
    assert "first diverging quantity: sigmoid derivative" in ran.stdout
    assert re.search(r"tolerance rtol=\S+ atol=\S+ .*; headroom \S+", ran.stdout)
    expected = expected_counts(adapter_claim(buggy), ("activations",))
    sigmoid = expected_counts(adapter_claim(buggy), ("activations",), "sigmoid")  # every case of the bug's function
    assert sigmoid.tests - sigmoid.skipped >= 2  # the sigmoid case and its tail case
    assert Counts.of_junit(junit) == Counts(expected.tests, sigmoid.tests - sigmoid.skipped, expected.skipped)
    command = re.search(r"reproduce: (.*)$", ran.stdout, flags=re.MULTILINE)
    assert command, ran.stdout
    words = shlex.split(command.group(1))
    start = words.index(sys.executable)
    assert words[start:start + 8] == [sys.executable, "-m", "mlpbench", "check", "--impl", "my_mlp:make", "--case",
                                      "activations/sigmoid"]
    assert Path(words[-1]).is_absolute()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    replay = subprocess.run(["bash", "-c", command.group(1)], cwd=elsewhere, env=author_env(),
                            capture_output=True, text=True, timeout=300)
    assert replay.returncode == 1, replay.stdout + replay.stderr
    assert "first diverging quantity: sigmoid derivative" in replay.stdout


def test_a_crash_fails_its_item_and_the_next_gets_a_fresh_worker(tmp_path: Path) -> None:
    crashing = readme_adapter_source().replace(SIGMOID_GRAD, "import os; os._exit(3)")
    folder = make_author_folder(tmp_path / "crashing project", crashing)
    junit = tmp_path / "junit.xml"
    ran = run_pytest(folder, "--mlpbench-impl", "my_mlp:make", "--mlpbench-area", "activations",
                     "--mlpbench-area", "model", f"--junitxml={junit}", "-rf")
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "exited with code 3" in ran.stdout
    passed = [case.attrib["name"] for case in ET.parse(junit).getroot().iter("testcase") if len(case) == 0]
    assert any(name.startswith("model/") for name in passed), passed  # after the crash, in a fresh worker


@pytest.mark.parametrize(("argv", "expected"), [
    (["--mlpbench-impl", "os:path"], "'os:path' names module 'posixpath'"),
    (["--mlpbench-impl", "referense"], "did you mean 'reference'"),
    (["--mlpbench-impl", "my_mlp:make", "--mlpbench-area", "init"], "nothing to check"),
])
def test_a_bad_target_is_a_one_line_usage_error(author: Path, argv: list[str], expected: str) -> None:
    ran = run_pytest(author, *argv)
    assert ran.returncode == 4, ran.stdout + ran.stderr
    assert ran.stderr.strip().count("\n") == 0 and expected in ran.stderr, ran.stderr


def test_the_helper_puts_the_checks_in_the_authors_own_test_file(author: Path, tmp_path: Path) -> None:
    folder = make_author_folder(tmp_path / "with tests", readme_adapter_source())
    (folder / "test_my_mlp.py").write_text(
        "from mlpbench.testing import conformance_tests\n\n"
        "test_my_mlp = conformance_tests('my_mlp:make', areas=['activations'])\n")
    junit = tmp_path / "junit.xml"
    ran = run_pytest(folder, "test_my_mlp.py", f"--junitxml={junit}", "-v")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "test_my_mlp.py::test_my_mlp[activations/sigmoid[float64]] PASSED" in ran.stdout
    assert Counts.of_junit(junit) == expected_counts(adapter_claim(folder), ("activations",))


def test_several_targets_prefix_their_ids_with_the_label(author: Path, tmp_path: Path) -> None:
    from mlpbench.impls.registry import resolve

    junit = tmp_path / "junit.xml"
    ran = run_pytest(author, "--mlpbench-impl", "my_mlp:make", "--mlpbench-impl", "reference",
                     "--mlpbench-area", "activations", f"--junitxml={junit}", "-rs")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    names = [case.attrib["name"] for case in ET.parse(junit).getroot().iter("testcase")]
    assert "my_mlp:make/activations/sigmoid[float64]" in names and "reference/activations/sigmoid[float32]" in names
    mine = expected_counts(adapter_claim(author), ("activations",))
    theirs = expected_counts(resolve("reference").capabilities(), ("activations",))
    assert Counts.of_junit(junit) == Counts(mine.tests + theirs.tests, 0, mine.skipped + theirs.skipped)
    assert "my_mlp:make: not claimed: activation 'tanh'" in ran.stdout  # a skip names whose it is
