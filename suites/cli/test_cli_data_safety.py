"""Data safety: no command deletes or changes a file it did not write (the ownership rule of
`mlpbench.output.folder`), every option has a range, every name becomes one safe path component, every text is
escaped for the format it goes into, and a results file is read against its schema.

A fake home and a fake repository hold user files at several depths, with names that resemble mlpbench's own
(`repro/`, `cells/`, `peaks/`, `settings.json`, `conformance.json`, `bench.md`, `.conformance.md.swp`,
`speedup.png`); every command is pointed at them, at a symbolic link to them and at a file, and a byte-for-byte
snapshot shows that every user file survives. Each command also writes a fresh folder twice (it replaces its
own files), then refuses once a user file appears in it. The implementation is `reference` on one case; the
GEMM peak of the one benchmark run is stubbed (its measurement is not what is tested here).
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import mlpbench.bench.peak
from mlpbench.bench.records import GemmRate
from mlpbench.cli import main

# The modules of the ownership rule are imported where they are used, so that the command-line cases of this
# suite run (and fail) against code that predates them too.
ROOT = Path(__file__).resolve().parents[2]
MANIFEST_NAME = ".mlpbench-manifest.json"
COMPONENT_LIMIT = 120

USER_FILES = {
    "notes.txt": b"my notes\n",
    "repro/notes.md": b"# what I found\n",
    "repro/deeper/keep.npz": b"PK\x03\x04 not really",
    "cells/mine.json": b'{"mine": true}\n',
    "peaks/peak.json": b'{"peak": 1}\n',
    "settings.json": b'{"editor": "vim"}\n',
    "conformance.json": b'{"mine": "not mlpbench\'s"}\n',
    "conformance.md": b"# my own conformance notes\n",
    "bench.md": b"# my benchmark log\n",
    "bench.json": b'{"schema": "mine"}\n',
    ".conformance.md.swp": b"vim swap\x00\x01",
    "speedup.png": b"\x89PNG my own picture",
    "a/b/c/d/deep.txt": b"deep down\n",
    "reports/check-reference/conformance.md": b"# an old report I edited by hand\n",
    "only-repro/repro/notes.md": b"a folder that holds only repro/, with my notes in it\n",
    "only-swap/.conformance.md.swp": b"vim's swap file of conformance.md\n",
    "only-bench/settings.json": b"{}\n",
    "only-bench/conformance.json": b"[]\n",
    "only-bench/cells/a.json": b"{}\n",
    "only-bench/peaks/b.json": b"{}\n",
    "only-bench/speedup.png": b"mine",
    "only-bench/bench.md": b"# mine\n",
}

CHECK_ARGS = ["check", "--impl", "reference", "--case", "activations/relu", "--dtype", "float64", "--quiet"]
MATRIX_ARGS = ["matrix", "--impl", "reference", "--area", "activations", "--dtype", "float64"]
BENCH_ARGS = ["bench", "--impl", "reference", "--models", "seed-10-64-32-1", "--batch-sizes", "4", "--dtypes",
              "float64", "--optimizers", "sgd", "--blocks", "2", "--min-block-seconds", "0.001",
              "--max-seconds-per-cell", "2", "--threads", "1"]
SCALING_ARGS = ["scaling", "--world-sizes", "1", "--model", "4-2", "--batch-per-rank", "2", "--steps", "1",
                "--blocks", "1", "--warmup", "0"]


def plant(root: Path) -> None:
    for relative, data in USER_FILES.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def snapshot(root: Path) -> dict[str, object]:
    """Every entry under `root`, not following links: path -> bytes and mode, 'dir' and mode, or the link."""
    entries: dict[str, object] = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        relative = str(path.relative_to(root))
        if stat.S_ISLNK(info.st_mode):
            entries[relative] = ("link", os.readlink(path))
        elif stat.S_ISDIR(info.st_mode):
            entries[relative] = ("dir", stat.S_IMODE(info.st_mode))
        else:
            entries[relative] = (path.read_bytes(), stat.S_IMODE(info.st_mode))
    return entries


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


@pytest.fixture(autouse=True)
def fast_peak(monkeypatch: pytest.MonkeyPatch) -> None:
    """The GEMM peak of a benchmark run, stubbed: 1 ms for every size."""
    monkeypatch.setattr(mlpbench.bench.peak, "measure_gemm_rate",
                        lambda target, n, timing: GemmRate(n, 1e-3, 1e-3, 1))


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """tmp/home and tmp/repo with user files (the repository is the working directory), tmp/link -> home."""
    home, repo = tmp_path / "home", tmp_path / "repo"
    plant(home)
    plant(repo)
    (repo / ".git").mkdir()
    (repo / ".git" / "HEAD").write_bytes(b"ref: refs/heads/main\n")
    (tmp_path / "link").symlink_to(home, target_is_directory=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(repo)
    yield tmp_path


@pytest.fixture(scope="module")
def bench_json(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real bench.json of one tiny cell (the reference implementation), its peak stubbed."""
    out = tmp_path_factory.mktemp("bench-run") / "run"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(mlpbench.bench.peak, "measure_gemm_rate", lambda target, n, timing: GemmRate(n, 1e-3, 1e-3, 1))
        assert main([*BENCH_ARGS, "--out", str(out)]) == 0
    return out / "bench.json"


def commands(out: str, bench_json: Path) -> dict[str, list[str]]:
    """Every command that writes a folder, writing into `out`."""
    return {
        "check": [*CHECK_ARGS, "--report-dir", out],
        "matrix": [*MATRIX_ARGS, "--out", out],
        "bench": [*BENCH_ARGS, "--out", out],
        "bench --resume": [*BENCH_ARGS, "--out", out, "--resume"],
        "report": ["report", str(bench_json), "--out", out],
        "report compare": ["report", str(bench_json), str(bench_json), "--out", out],
        "scaling": [*SCALING_ARGS, "--out", out],
    }


COMMANDS = ["check", "matrix", "bench", "bench --resume", "report", "report compare", "scaling"]
SWAP_FILE = "'.conformance.md.swp', which mlpbench did not write"
TARGETS = {  # what each command is pointed at, and what the refusal names (the first foreign file)
    "home": ("home", SWAP_FILE),
    "repository": ("repo", SWAP_FILE),
    "symlink to home": ("link", SWAP_FILE),
    "repro folder": ("home/repro", "'deeper/keep.npz', which mlpbench did not write"),
    "only repro/": ("home/only-repro", "'repro/notes.md', which mlpbench did not write"),
    "only a swap file": ("home/only-swap", SWAP_FILE),
    "only names of a run": ("home/only-bench", "'bench.md', which mlpbench did not write"),
    "a file": ("home/settings.json", "it is a file, not a folder"),
    "the working directory": (".", SWAP_FILE),
}


# -- every command, pointed at user folders ---------------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("command", COMMANDS)
def test_no_command_touches_a_user_folder(world: Path, bench_json: Path, command: str, target: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    where, named = TARGETS[target]
    out = str(world / where) if where != "." else "."
    before = snapshot(world)
    assert main(commands(out, bench_json)[command]) == 2
    assert named in one_error_line(capsys)
    assert snapshot(world) == before


def test_report_beside_a_user_bench_json_writes_nothing(world: Path, bench_json: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    (world / "home" / "bench.json").write_bytes(bench_json.read_bytes())
    before = snapshot(world)
    assert main(["report", str(world / "home" / "bench.json")]) == 2  # default --out: beside the file
    assert "which mlpbench did not write" in one_error_line(capsys)
    assert snapshot(world) == before


@pytest.mark.parametrize("command", ["check", "matrix", "bench", "report", "report compare", "scaling"])
def test_a_usage_error_creates_no_folder(world: Path, bench_json: Path, command: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = world / "repo" / "new" / "deeper" / "out"
    argv = commands(str(out), bench_json)[command]
    broken = {"check": ["--impl", "no-such-impl"], "matrix": ["--impl", "no-such-impl"],
              "bench": ["--impl", "no-such-impl"], "report": ["--threshold", "0.5"],
              "report compare": ["--alpha", "2"], "scaling": ["--impl", "no-such-impl"]}[command]
    before = snapshot(world)
    assert main([*argv, *broken]) == 2
    one_error_line(capsys)
    assert snapshot(world) == before


# -- a fresh folder: written, rewritten, then a user file appears ------------------------------------------------


@pytest.mark.parametrize("command", ["check", "matrix", "bench", "report", "report compare"])
def test_a_command_replaces_its_own_files_and_only_those(world: Path, bench_json: Path, command: str,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = world / "home" / "out"
    argv = commands(str(out), bench_json)[command]
    home_before = snapshot(world / "home")
    assert main(argv) == 0
    first = snapshot(out)
    assert main(argv) == 0  # its own files are replaced
    assert set(snapshot(out)) == set(first)
    assert {k: v for k, v in snapshot(world / "home").items() if not k.startswith("out")} == home_before
    assert_manifest_matches(out)
    (out / "deeper").mkdir(exist_ok=True)
    (out / "deeper" / "mine.txt").write_bytes(b"a user file, put in later")
    before = snapshot(world)
    capsys.readouterr()
    assert main(argv) == 2
    assert "'deeper/mine.txt', which mlpbench did not write" in one_error_line(capsys)
    assert snapshot(world) == before


def assert_manifest_matches(folder: Path) -> None:
    """The manifest lists exactly the regular files under `folder` (nested sets by their own manifest)."""
    from mlpbench.output.folder import find_foreign
    from mlpbench.output.manifest import read_manifest

    manifest = read_manifest(folder)
    assert manifest is not None and not manifest.pending
    assert find_foreign(folder, manifest.kind) is None
    files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    nested = {f for f in files if any(f.startswith(f"{name}/") for name in manifest.sets)}
    assert files - nested - {MANIFEST_NAME} == set(manifest.files)
    for name in manifest.sets:
        assert_manifest_matches(folder / name)


def test_a_file_changed_since_mlpbench_wrote_it_is_left_alone(world: Path, capsys: pytest.CaptureFixture[str]
                                                             ) -> None:
    out = world / "home" / "report"
    assert main([*CHECK_ARGS, "--report-dir", str(out)]) == 0
    (out / "conformance.md").write_text("edited by hand\n")
    before = snapshot(world)
    assert main([*CHECK_ARGS, "--report-dir", str(out)]) == 2
    assert "'conformance.md', which was changed since mlpbench wrote it" in one_error_line(capsys)
    assert snapshot(world) == before


def test_bench_pointed_at_a_check_report_set_leaves_it_alone(world: Path, capsys: pytest.CaptureFixture[str]
                                                            ) -> None:
    out = world / "home" / "report"
    assert main([*CHECK_ARGS, "--report-dir", str(out)]) == 0
    before = snapshot(world)
    assert main([*BENCH_ARGS, "--out", str(out)]) == 2
    assert "'conformance.json', which is part of the report set of `mlpbench check`" in one_error_line(capsys)
    assert snapshot(world) == before
    assert main([*CHECK_ARGS, "--report-dir", str(out)]) == 0  # and it is still a report set of its own


def test_check_pointed_at_a_benchmark_run_leaves_it_alone(world: Path, bench_json: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = world / "home" / "rendered"
    assert main(["report", str(bench_json), "--out", str(out)]) == 0
    before = snapshot(world)
    assert main([*CHECK_ARGS, "--report-dir", str(out)]) == 2
    assert "which is part of a benchmark run" in one_error_line(capsys)
    assert snapshot(world) == before


def test_scaling_writes_a_fresh_folder_then_only_its_own_files(world: Path) -> None:
    from mlpbench.bench.scaling import ScalingRow, write_outputs

    out = world / "home" / "scaling"
    rows = [ScalingRow(1, 0.01, 0.001, 0.008, 100.0, 1.0, 0.2, 1)]
    setup = {"impl": "torch-ddp", "model": "4-2", "batch_per_rank": 2, "dtype": "float32", "optimizer": "sgd",
             "threads_per_rank": 1, "cpu_count": 2}
    write_outputs(out, rows, setup, {1: []})
    write_outputs(out, rows, setup, {1: []})
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST_NAME, "scaling.json", "scaling.md"]
    (out / "notes.txt").write_text("mine")
    with pytest.raises(Exception, match="'notes.txt', which mlpbench did not write"):
        write_outputs(out, rows, setup, {1: []})
    assert (out / "notes.txt").read_text() == "mine"


def test_a_killed_write_leaves_nothing_the_next_run_cannot_tell_apart(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import mlpbench.output.folder
    from mlpbench.output.folder import OwnedFolder
    from mlpbench.output.manifest import BENCH

    out = tmp_path / "run"
    with OwnedFolder(out, BENCH) as folder:
        folder.write_text("bench.md", "first\n")

    def killed(path: object, data: bytes, *, temp: Path) -> None:  # stopped half-way through the temporary file
        temp.write_bytes(data[:3])
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(mlpbench.output.folder, "write_bytes_atomic", killed)
        with pytest.raises(KeyboardInterrupt), OwnedFolder(out, BENCH) as folder:
            folder.write_text("bench.md", "second\n")
    assert any(p.name.endswith(".tmp") for p in out.iterdir())  # the partial temporary file is there
    with OwnedFolder(out, BENCH) as folder:  # and the next run knows it as its own
        assert folder.owned() == ["bench.md"]
        folder.write_text("bench.md", "third\n")
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST_NAME, "bench.md"]
    assert (out / "bench.md").read_text() == "third\n"


# -- two commands writing one folder ---------------------------------------------------------------------------


def test_two_concurrent_checks_of_one_folder_take_turns(tmp_path: Path) -> None:
    out = tmp_path / "shared" / "report"
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "mine.txt").write_text("beside the report folder")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    runs = [subprocess.Popen([sys.executable, "-m", "mlpbench", *CHECK_ARGS, "--report-dir", str(out)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outcomes = [(run.wait(timeout=300), run.stdout.read(), run.stderr.read()) for run in runs]
    for code, stdout, stderr in outcomes:
        assert code == 0, stdout + stderr
    assert sorted(os.listdir(tmp_path / "shared")) == ["mine.txt", "report"]  # no staging folder left
    assert (tmp_path / "shared" / "mine.txt").read_text() == "beside the report folder"
    assert_manifest_matches(out)
    assert json.loads((out / "conformance.json").read_text())["verdict"] == "pass"


def test_a_folder_another_command_is_writing_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    import mlpbench.output.folder
    from mlpbench.output.folder import OwnedFolder
    from mlpbench.output.manifest import BENCH

    monkeypatch.setattr(mlpbench.output.folder, "LOCK_WAIT_S", 0.2)
    out = tmp_path / "run"
    with OwnedFolder(out, BENCH) as folder:  # another command holds it
        folder.write_text("bench.md", "being written\n")
        assert main([*BENCH_ARGS, "--out", str(out)]) == 2
        assert "is being written by another mlpbench command" in one_error_line(capsys)
        assert sorted(p.name for p in out.iterdir()) == [MANIFEST_NAME, "bench.md"]


# -- names become one safe path component ---------------------------------------------------------------------

NAMES = ["..", ".", "../../escaped", "/etc/passwd", "a/b/c", "nul\x00byte", "ctrl\x1b[31m\n\r\t", "x" * 10_000,
         "", "...hidden", "C:\\Windows", "torch-ddp:2", "ünïcode"]


@pytest.mark.parametrize("name", NAMES, ids=lambda n: repr(n[:20]))
def test_a_name_is_one_safe_component(tmp_path: Path, name: str) -> None:
    from mlpbench.output.names import safe_component

    component = safe_component(name, ".json")
    assert re.fullmatch(r"[A-Za-z0-9_+-][A-Za-z0-9._+-]*", component) and len(component) <= COMPONENT_LIMIT
    assert component not in (".", "..") and (tmp_path / component).parent == tmp_path


def test_long_names_stay_distinct() -> None:
    from mlpbench.output.names import distinct_components, safe_component

    a, b = "x" * 10_000 + "a", "x" * 10_000 + "b"
    assert safe_component(a) != safe_component(b)
    assert len(set(distinct_components(["a:b", "a_b", "a/b"]).values())) == 3


PLUGIN = '''
from mlpbench.impls.reference_impl import ReferenceImplementation


class Named(ReferenceImplementation):
    name = NAME


def make():
    return Named()


globals()["f" * 10_000] = make
'''


def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> str:
    folder = tmp_path / "plugin"
    folder.mkdir(exist_ok=True)
    (folder / "safety_plugin.py").write_text(PLUGIN.replace("NAME", repr(name)))
    monkeypatch.syspath_prepend(str(folder))
    return "safety_plugin"


def test_an_entry_point_named_like_a_path_writes_inside_the_output_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = plugin(tmp_path, monkeypatch, "named")
    site = tmp_path / "site"
    (site / "evil-0.dist-info").mkdir(parents=True)
    (site / "evil-0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: evil\nVersion: 0\n")
    (site / "evil-0.dist-info" / "entry_points.txt").write_text(
        f"[mlpbench.implementations]\n../../escaped = {module}:make\n")
    monkeypatch.syspath_prepend(str(site))
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert main([*MATRIX_ARGS, "--impl", "../../escaped", "--out", "OUT"]) == 0
    made = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")
                  if p.relative_to(tmp_path) not in before and "__pycache__" not in p.parts)  # Python's, not ours
    assert made and all(str(p).startswith("a/b/OUT") for p in made), made
    columns = json.loads((work / "OUT" / "matrix.json").read_text())["implementations"]
    assert [c["folder"] for c in columns] == ["reference", "_.._escaped"]
    assert (work / "OUT" / "_.._escaped" / "conformance.json").is_file()


def test_a_10000_character_label_gets_a_capped_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    label = f"{plugin(tmp_path, monkeypatch, 'named')}:{'f' * 10_000}"
    monkeypatch.chdir(tmp_path)
    assert main([*CHECK_ARGS[:2], label, *CHECK_ARGS[3:]]) == 0  # the default folder: reports/check-<label>
    (folder,) = (tmp_path / "reports").iterdir()
    assert len(folder.name) <= COMPONENT_LIMIT and (folder / "conformance.json").is_file()


# -- every option has a range --------------------------------------------------------------------------------------

OPTION_CASES = [
    (["check", "--impl", "reference", "--timeout", "1e14"], "--timeout"),
    (["check", "--impl", "reference", "--timeout", "1e300"], "--timeout"),
    (["check", "--impl", "reference", "--timeout", "inf"], "--timeout"),
    (["check", "--impl", "reference", "--timeout", "nan"], "--timeout"),
    (["check", "--impl", "reference", "--timeout", "604801"], "--timeout"),
    (["check", "--impl", "reference", "--timeout", ""], "--timeout"),
    (["check", "--impl", "reference", "--report-dir", ""], "--report-dir"),
    (["check", "--impl", ""], "--impl"),
    (["check", "--impl", "reference", "--case", ""], "--case"),
    (["matrix", "--impl", "reference", "--timeout", "1e300"], "--timeout"),
    (["matrix", "--impl", "reference", "--out", ""], "--out"),
    (["matrix", "--impl", ""], "--impl"),
    (["bench", "--step-timeout", "1e300"], "--step-timeout"),
    (["bench", "--batch-sizes", ""], "--batch-sizes"),
    (["bench", "--batch-sizes", ","], "--batch-sizes"),
    (["bench", "--batch-sizes", "0"], "--batch-sizes"),
    (["bench", "--optimizers", ""], "--optimizers"),
    (["bench", "--dtypes", ""], "--dtypes"),
    (["bench", "--model", ""], "--model"),
    (["bench", "--model", "10-0"], "--model"),
    (["bench", "--model", "10-99999999"], "--model"),
    (["bench", "--impl", ""], "--impl"),
    (["bench", "--out", ""], "--out"),
    (["report", "", "--out", "x"], "FILE"),
    (["report", "a.json", "--out", ""], "--out"),
    (["report", "a.json", "b.json", "--threshold", "1e400"], "--threshold"),
    (["report", "a.json", "b.json", "--threshold", "1e9"], "--threshold"),
    (["scaling", "--world-sizes", ""], "--world-sizes"),
    (["scaling", "--world-sizes", "0"], "--world-sizes"),
    (["scaling", "--model", ""], "--model"),
    (["scaling", "--steps", "0"], "--steps"),
    (["scaling", "--steps", "10000000"], "--steps"),
    (["scaling", "--out", ""], "--out"),
    (["list", "--timeout", "1e300"], "--timeout"),
]


@pytest.mark.parametrize(("argv", "option"), OPTION_CASES, ids=lambda v: " ".join(v) if isinstance(v, list) else v)
def test_an_option_out_of_range_or_empty_exits_2_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str], argv: list[str],
                                                           option: str) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert option in one_error_line(capsys)
    assert not list(tmp_path.iterdir())  # nothing made, not even the default reports/ folder


# -- every text is escaped for its format ------------------------------------------------------------------------

INJECTED = "evil\n# Injected heading <script>alert(1)</script> | pipe `tick` [link](http://x) \x1b[2J"


def assert_no_injection(path: Path) -> None:
    text = path.read_text()
    assert not re.search(r"^\s*#+ Injected", text, flags=re.MULTILINE), path
    assert "<script>" not in text and "\x1b" not in text and "[link](" not in text, path


def test_a_name_cannot_inject_markdown_or_html(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    label = f"{plugin(tmp_path, monkeypatch, INJECTED)}:make"
    assert main([*CHECK_ARGS[:2], label, *CHECK_ARGS[3:], "--report-dir", str(tmp_path / "check")]) == 0
    assert_no_injection(tmp_path / "check" / "conformance.md")
    headings = [line for line in (tmp_path / "check" / "conformance.md").read_text().splitlines()
                if line.startswith("#")]
    assert headings[0].startswith("# Conformance of evil\\n# Injected heading &lt;script>")
    assert all(not h.startswith("# ") or h.startswith("# Conformance") for h in headings)
    matrix = tmp_path / "matrix"
    assert main([*MATRIX_ARGS[:2], label, *MATRIX_ARGS[3:], "--out", str(matrix)]) == 0
    (folder,) = [c["folder"] for c in json.loads((matrix / "matrix.json").read_text())["implementations"]]
    assert_no_injection(matrix / folder / "conformance.md")
    assert_no_injection(matrix / "matrix.md")


def test_a_200000_character_name_makes_a_small_report_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    label = f"{plugin(tmp_path, monkeypatch, 'y' * 200_000)}:make"
    out = tmp_path / "report"
    assert main([*CHECK_ARGS[:2], label, *CHECK_ARGS[3:], "--report-dir", str(out)]) == 0
    assert sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) < 100_000
    report = json.loads((out / "conformance.json").read_text())
    assert len(report["meta"]["impl"]) <= 200 and report["meta"]["impl"].startswith("yyyy")
    assert re.search(r"…\[[0-9a-f]{8}\]", report["meta"]["impl"])


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", " =1", "  +cmd", "\t", "\r"])
def test_a_csv_cell_never_starts_a_formula(text: str) -> None:
    from mlpbench.report_text import csv_cell

    assert csv_cell(text) == "'" + text
    assert csv_cell(1.5) == 1.5 and csv_cell(-1) == -1 and csv_cell("plain") == "plain"


def test_terminal_and_markdown_text_are_one_line() -> None:
    from mlpbench.report_text import markdown_text, terminal_text

    assert "\n" not in terminal_text("a\nb\rc\x1b[2J\u202e") and "\x1b" not in terminal_text("\x1b")
    assert "\n" not in markdown_text("a\nb") and "|" not in markdown_text("a|b").replace("\\|", "")


# -- a results file is read against its schema ---------------------------------------------------------------------


def numbers_replaced(value: object, by: object) -> object:
    """`value` (parsed JSON) with every number replaced by `by`."""
    if isinstance(value, dict):
        return {key: numbers_replaced(item, by) for key, item in value.items()}
    if isinstance(value, list):
        return [numbers_replaced(item, by) for item in value]
    return by if isinstance(value, int | float) and not isinstance(value, bool) else value


@pytest.mark.parametrize("crafted", ["nested", "nan", "strings", "empty", "binary", "list", "huge int"])
def test_a_crafted_results_file_exits_2_with_one_line(tmp_path: Path, bench_json: Path, crafted: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(bench_json.read_text())
    content = {
        "nested": b"[" * 200_000 + b"]" * 200_000,
        "nan": json.dumps(numbers_replaced(data, float("nan"))).encode(),  # NaN literals, every one
        "strings": json.dumps(numbers_replaced(data, "fast")).encode(),
        "empty": b"",
        "binary": b"\xff\xfe\x00garbage",
        "list": b"[]",
        "huge int": json.dumps(numbers_replaced(data, 10**4000)).encode(),
    }[crafted]
    path = tmp_path / "bench.json"
    path.write_bytes(content)
    assert main(["report", str(path), "--out", str(tmp_path / "out")]) == 2
    line = one_error_line(capsys)
    if crafted in ("nan", "strings", "huge int"):
        assert re.search(r": [a-z_][\w.\[\]]*: expected ", line), line  # names the field
    assert not (tmp_path / "out").exists()


def mutations(value: object, path: tuple = ()) -> Iterator[tuple[tuple, object]]:
    """(path, replacement) for every leaf of `value` and a few values it must not hold."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from mutations(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value[:1]):
            yield from mutations(item, (*path, index))
    if path:
        for replacement in (None, "x", -1, 1e308, True, [], {}):
            yield path, replacement


def replaced(data: object, path: tuple, value: object) -> object:
    copy = json.loads(json.dumps(data))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copy


def test_whatever_a_results_file_holds_reading_it_fails_in_one_line_or_renders(bench_json: Path) -> None:
    from mlpbench.bench.records import BenchResults, RecordError
    from mlpbench.bench.results import csv_text
    from mlpbench.bench.tables import markdown_report
    from mlpbench.bench.terminal import summary

    data = json.loads(bench_json.read_text())
    tried = rendered = 0
    for where, value in mutations(data):
        tried += 1
        try:
            results = BenchResults.from_dict(replaced(data, where, value))  # what load_results does after parsing
        except RecordError as error:
            assert "\n" not in str(error) and str(error).startswith(str(where[0])), (where, error)
            continue
        markdown_report(results, ["throughput.png"])
        summary(results)
        csv_text(results.cells)
        rendered += 1
    assert tried > 200 and rendered > 0


def test_names_with_markup_in_a_results_file_render_escaped(tmp_path: Path, bench_json: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(bench_json.read_text())
    for cell in data["cells"]:
        cell["impl"] = "$\\frac{a}{$ \n# Injected <b>bold</b>"
        cell["reason"] = "\t=HYPERLINK(\"http://x\")"
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(data))
    out = tmp_path / "out"
    assert main(["report", str(path), "--out", str(out)]) == 0
    markdown = (out / "bench.md").read_text()
    assert not re.search(r"^\s*#+ Injected", markdown, flags=re.MULTILINE) and "<b>" not in markdown
    assert "\t=HYPERLINK" not in (out / "bench.csv").read_text().replace("'\t=HYPERLINK", "")
    assert "\x1b" not in capsys.readouterr().out


def test_the_rule_is_in_the_help_and_the_docs(capsys: pytest.CaptureFixture[str]) -> None:
    from mlpbench.output.folder import OwnedFolder, OwnershipError
    from mlpbench.output.manifest import CHECK

    for command in ("check", "matrix", "bench", "report", "scaling"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "new or empty folder" in " ".join(capsys.readouterr().out.split()), command
    docs = (ROOT / "docs" / "output-folders.md").read_text()
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert "manifest" in docs and "removes or replaces only" in readme
    assert textwrap.dedent(docs).count("\n") > 10
    with pytest.raises(OwnershipError):
        OwnedFolder(ROOT, CHECK).__enter__()  # the repository is nobody's output folder
