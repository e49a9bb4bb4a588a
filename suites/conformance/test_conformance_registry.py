"""The implementation registry: built-ins, entry-point plug-ins, package.module:factory, mutants, errors."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlpbench.impls import registry
from mlpbench.impls.interface import AREAS, Implementation
from mlpbench.impls.registry import UnknownImplementation, entries, resolve

BUILT_IN_NAMES = ("reference", "torch-cpu", "torch-cuda", "torch-cuda-tf32")

PLUGIN_SOURCE = textwrap.dedent(
    """
    from mlpbench.impls.interface import Capabilities, Implementation

    class Learner(Implementation):
        description = "a learner's partial network"

        def capabilities(self):
            return Capabilities(activations=frozenset({"sigmoid"}))

    class Named(Implementation):
        name = "my-named-impl"

    def make():
        return Learner()

    def make_nothing():
        return 42

    def make_broken():
        raise RuntimeError("no GPU\\nsecond line")

    instance = Learner()

    class Factories:
        @staticmethod
        def create():
            return Named()
    """
)


@pytest.fixture
def plugin_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A module with adapters in a temporary directory on sys.path; returns its name."""
    name = f"mlpbench_test_plugin_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(PLUGIN_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def test_built_in_entries_are_listed_in_order_with_their_kind() -> None:
    listed = entries(include_mutants=False)
    assert tuple(entry.name for entry in listed[: len(BUILT_IN_NAMES)]) == BUILT_IN_NAMES
    assert all(entry.kind == "built-in" and entry.description for entry in listed[: len(BUILT_IN_NAMES)])
    assert all(entry.kind != "mutant" for entry in listed)


def test_importing_the_registry_does_not_import_torch() -> None:
    code = "import sys, mlpbench.impls.registry as r; r.entries(include_mutants=False); print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_resolve_torch_cpu_by_name() -> None:
    pytest.importorskip("torch")
    impl = resolve("torch-cpu")
    assert (impl.name, impl.kind, impl.device, impl.precision) == ("torch-cpu", "built-in", "cpu", "ieee")
    assert impl.availability() == (True, "")


def test_resolve_tf32_variant_is_labelled() -> None:
    pytest.importorskip("torch")
    impl = resolve("torch-cuda-tf32")
    assert (impl.name, impl.device, impl.precision) == ("torch-cuda-tf32", "cuda", "tf32")


def test_cuda_unavailability_carries_a_reason() -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present here")
    available, reason = resolve("torch-cuda").availability()
    assert not available
    assert "CUDA not available" in reason and "torch.cuda.is_available() is False" in reason


def test_resolve_reference_by_name() -> None:
    impl = resolve("reference")
    assert impl.name == "reference" and impl.kind == "built-in"


@pytest.mark.parametrize(
    ("target", "expected_name"),
    [
        ("Learner", "{module}:Learner"),  # a subclass: instantiated, named after the spec it came from
        ("make", "{module}:make"),  # a factory function
        ("instance", "{module}:instance"),  # an instance
        ("Factories.create", "my-named-impl"),  # a dotted attribute path; the adapter's own name is kept
    ],
)
def test_resolve_module_factory(plugin_module: str, target: str, expected_name: str) -> None:
    impl = resolve(f"{plugin_module}:{target}")
    assert isinstance(impl, Implementation)
    assert impl.name == expected_name.format(module=plugin_module)


def test_module_factory_capabilities_come_from_the_adapter(plugin_module: str) -> None:
    impl = resolve(f"{plugin_module}:make")
    assert set(impl.capabilities().activations) == {"sigmoid"}
    assert impl.kind == "plug-in"


@pytest.mark.parametrize(
    ("suffix", "fragment"),
    [
        (":make_nothing", "returned a int (42), not an mlpbench.impls.interface.Implementation"),
        (":make_broken", "RuntimeError: no GPU second line"),
        (":missing", "has no attribute 'missing'"),
    ],
)
def test_module_factory_errors_are_one_line(plugin_module: str, suffix: str, fragment: str) -> None:
    with pytest.raises(UnknownImplementation) as info:
        resolve(plugin_module + suffix)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_module_is_reported_in_one_line_as_not_found() -> None:
    with pytest.raises(UnknownImplementation, match=r"no module named 'no_such_module_xyz'") as info:
        resolve("no_such_module_xyz:make")
    assert "\n" not in str(info.value)
    assert info.value.not_found


def test_a_module_that_exists_but_fails_to_import_is_not_a_missing_name(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "broken_dep_plugin.py").write_text("import no_such_dependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(UnknownImplementation, match=r"cannot import module 'broken_dep_plugin'") as info:
        resolve("broken_dep_plugin:make")
    assert not info.value.not_found


def test_entry_point_plugin_is_listed_and_resolved(
    plugin_module: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dist_info = tmp_path / "mlpbench_test_plugin-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: mlpbench-test-plugin\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text(
        f"[{registry.ENTRY_POINT_GROUP}]\nlearner-plugin = {plugin_module}:make\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    listed = {entry.name: entry for entry in entries(include_mutants=False)}
    assert listed["learner-plugin"].kind == "plug-in"
    assert f"{plugin_module}:make" in listed["learner-plugin"].description
    impl = resolve("learner-plugin")
    assert impl.name == "learner-plugin"
    assert set(impl.capabilities().activations) == {"sigmoid"}


def test_unknown_name_error_is_one_line_pointing_to_the_listing() -> None:
    """No list of every name (45 of them): `mlpbench list` shows them; a close misspelling gets a "did you mean"
    (suites/cli/test_cli_targets.py)."""
    with pytest.raises(UnknownImplementation) as info:
        resolve("tensorflow-tpu")
    message = str(info.value)
    assert isinstance(info.value, ValueError) and info.value.not_found
    assert "\n" not in message
    assert "'tensorflow-tpu'" in message and "`mlpbench list`" in message
    assert not any(f"'{name}'" in message for name in BUILT_IN_NAMES)
    assert "package.module:factory" in message


def test_malformed_module_path_is_rejected() -> None:
    with pytest.raises(UnknownImplementation, match="package.module:factory"):
        resolve(":make")


def test_mutants_are_registered_with_the_area_that_should_catch_them() -> None:
    pytest.importorskip("torch")
    mutants = [entry for entry in entries() if entry.kind == "mutant"]
    assert len(mutants) >= 16
    names = [entry.name for entry in mutants]
    assert len(set(names)) == len(names)
    for entry in mutants:
        assert entry.name.startswith("mutant-")
        assert entry.breaks in AREAS
        assert entry.description and "\n" not in entry.description
    impl = resolve(mutants[0].name)
    assert (impl.name, impl.kind, impl.device) == (mutants[0].name, "mutant", "cpu")
