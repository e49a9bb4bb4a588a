"""Targets resolve as Python users expect (docs/targets.md).

`mlpbench check --impl my_mlp:make`, run in the author's own folder with no PYTHONPATH pointing there, finds
`my_mlp.py` (the working folder comes first for module targets, in the worker process too), beside a decoy
`reference.py`, `impls.py` and `mlpbench_foo.py` that raise on import. A misspelt registry name gets a "did you
mean"; a target that names something other than an implementation is a usage error (exit 2, one line, naming
what it found); and a failed command leaves the folder as it was.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from author_folder import author_env, listing, make_author_folder, mlpbench_command

from mlpbench.impls.registry import UnknownImplementation, entries, resolve
from mlpbench.impls.targets import is_module_target, search_path


@pytest.fixture(scope="module")
def author(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_author_folder(tmp_path_factory.mktemp("author") / "my project")


def check(folder: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*mlpbench_command(), "check", *argv], cwd=folder, env=author_env(),
                          capture_output=True, text=True, timeout=300)


def test_a_module_target_is_found_in_the_working_folder_beside_decoys(author: Path, tmp_path: Path) -> None:
    assert str(author) not in author_env()["PYTHONPATH"].split(os.pathsep)
    report_dir = tmp_path / "reports"
    ran = check(author, "--impl", "my_mlp:make", "--area", "activations", "--area", "optimizers",
                "--report-dir", str(report_dir), "--quiet")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    verdicts = {r["case"]: r["verdict"] for r in json.loads((report_dir / "conformance.json").read_text())["results"]}
    assert verdicts["activations/sigmoid"] == "pass" and verdicts["optimizers/sgd"] == "pass"


@pytest.mark.parametrize(("target", "expected"), [
    ("torch-cpuu", "did you mean 'torch-cpu'"),
    ("os:path", "'os:path' names module 'posixpath', not an mlpbench.impls.interface.Implementation"),
    ("json:JSONDecoder", "names class 'json.decoder.JSONDecoder', not an mlpbench.impls.interface.Implementation"),
    ("os:getcwd", "'os:getcwd' returned a str"),
    ("my_mlp:no_such_factory", "module 'my_mlp' has no attribute 'no_such_factory'"),
    ("no_such_module:make", "no module named 'no_such_module' in the working folder"),
])
def test_a_bad_target_is_a_one_line_usage_error_that_creates_nothing(author: Path, target: str,
                                                                     expected: str) -> None:
    before = listing(author)
    ran = check(author, "--impl", target, "--quiet")  # the default report folder: reports/check-<target>/
    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert ran.stderr.count("\n") == 1 and ran.stderr.startswith("error: "), ran.stderr
    assert expected in ran.stderr and "Traceback" not in ran.stderr
    assert listing(author) == before  # no reports/ folder, nothing else


def test_a_misspelt_name_is_not_answered_with_every_name() -> None:
    with pytest.raises(UnknownImplementation) as raised:
        resolve("torch-cpuu")
    message = str(raised.value)
    assert "did you mean 'torch-cpu'" in message and raised.value.not_found
    assert sum(entry.name in message.split("'") for entry in entries()) <= 3
    with pytest.raises(UnknownImplementation) as unrelated:
        resolve("zzzz-nothing-like-it")
    assert "did you mean" not in str(unrelated.value)


def test_the_working_folder_heads_the_path_of_module_targets_only(tmp_path: Path) -> None:
    path = ["/opt/site", "", str(tmp_path)]
    assert search_path("pkg.mod:make", path, cwd=str(tmp_path)) == [str(tmp_path), "/opt/site"]
    assert search_path("torch-cpu", path, cwd=str(tmp_path)) == ["/opt/site", str(tmp_path), str(tmp_path)]
    assert not is_module_target("torch-ddp:4") and is_module_target("pkg.mod:make")
    assert search_path("torch-ddp:4", path, cwd=str(tmp_path))[0] == "/opt/site"
