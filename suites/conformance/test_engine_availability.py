"""Optional frameworks: where JAX, Keras, scikit-learn or MLX is missing, their implementations say so with the command that installs
them (what `mlpbench list` shows and pytest's skip reason repeats); the registry lists every engine."""

from __future__ import annotations

import pytest

from mlpbench.impls.registry import BUILT_INS, OPT_IN

ENGINES = ("torch-cpu-foreach", "torch-cpu-fused", "torch-cpu-compile", "torch-cuda-fused", "torch-cuda-compile",
           "torch-cuda-graphs", "jax-cpu", "jax-cuda", "keras", "sklearn-cpu")


def test_every_engine_is_a_built_in() -> None:
    names = {entry.name for entry in BUILT_INS}
    assert set(ENGINES) <= names
    assert set(OPT_IN) <= names


@pytest.mark.parametrize(("module", "attribute", "error", "cls", "install"), [
    ("mlpbench.impls.jax_impl", "jax", "JAX_IMPORT_ERROR", "JaxImplementation", "pip install 'mlpbench[jax]'"),
    ("mlpbench.impls.keras_impl", "keras", "KERAS_IMPORT_ERROR", "KerasImplementation",
     "pip install 'mlpbench[keras]'"),
    ("mlpbench.impls.sklearn_impl", "sklearn", "SKLEARN_IMPORT_ERROR", "SklearnImplementation",
     "pip install 'mlpbench[sklearn]'"),
])
def test_missing_framework_is_unavailable_with_the_install_command(
        monkeypatch: pytest.MonkeyPatch, module: str, attribute: str, error: str, cls: str, install: str) -> None:
    imported = pytest.importorskip(module)
    monkeypatch.setattr(imported, attribute, None)
    monkeypatch.setattr(imported, error, "ModuleNotFoundError: No module named 'x'")
    available, reason = getattr(imported, cls).__new__(getattr(imported, cls)).availability()
    assert not available
    assert install in reason and "No module named" in reason


def test_fused_engine_claims_only_optimizers_with_a_fused_cpu_kernel() -> None:
    pytest.importorskip("torch")
    from mlpbench.impls.torch_impl import FUSED_CPU_OPTIMIZERS, TorchImplementation

    caps = TorchImplementation(optimizer_path="fused").capabilities()
    assert set(caps.optimizers) == set(FUSED_CPU_OPTIMIZERS)
    assert set(TorchImplementation(optimizer_path="foreach").capabilities().optimizers) == set(
        TorchImplementation().capabilities().optimizers)
