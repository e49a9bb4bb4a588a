"""Optional frameworks: where JAX, Keras, scikit-learn, MLX or tinygrad is missing, their implementations say so
with the command that installs them (what `mlpbench list` shows and pytest's skip reason repeats); the registry
lists every engine."""

from __future__ import annotations

import pytest

from mlpbench.impls.registry import BUILT_INS, OPT_IN

ENGINES = ("torch-cpu-foreach", "torch-cpu-fused", "torch-cpu-compile", "torch-cuda-fused", "torch-cuda-compile",
           "torch-cuda-graphs", "jax-cpu", "jax-cuda", "keras", "sklearn-cpu",
           "mlx-cpu", "tinygrad-cpu")


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
    ("mlpbench.impls.mlx_impl", "mx", "MLX_IMPORT_ERROR", "MlxImplementation", "pip install 'mlpbench[mlx]'"),
    ("mlpbench.impls.tinygrad_impl", "tinygrad", "TINYGRAD_IMPORT_ERROR", "TinygradImplementation",
     "pip install 'mlpbench[tinygrad]'"),
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


def test_tinygrad_without_its_compiler_is_unavailable_for_the_reason_tinygrad_fails() -> None:
    """Where tinygrad's C compiler ($CC or clang) is not on PATH, the engine is unavailable naming it, and
    tinygrad itself fails for that reason: opening its CPU device raises FileNotFoundError for that executable."""
    import shutil

    module = pytest.importorskip("mlpbench.impls.tinygrad_impl")
    pytest.importorskip("tinygrad")
    compiler = module.compiler_executable()
    if shutil.which(compiler) is not None:
        pytest.skip(f"{compiler!r} is on PATH here; tinygrad's CPU device can open")
    available, reason = module.TinygradImplementation().availability()
    assert not available
    assert f"no {compiler!r} executable on PATH" in reason and "install clang" in reason
    from tinygrad import Device

    with pytest.raises(FileNotFoundError) as raised:
        Device["CPU"]
    assert raised.value.filename == compiler
