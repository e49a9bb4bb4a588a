"""Where implementations are found by name.

A name resolves, in this order, to
1. a built-in: "reference", "torch-cpu", "torch-cuda", "torch-cuda-tf32", "torch-ddp", "torch-ddp-cuda"
   ("torch-ddp:N", "torch-ddp-cuda:N": N data-parallel ranks);
2. a plug-in: an entry point of the group "mlpbench.implementations" (in a package's pyproject:
   `[project.entry-points."mlpbench.implementations"] myimpl = "mypkg.adapter:make"`);
3. "package.module:factory": `factory` is an Implementation subclass, an Implementation instance, or a
   callable returning one (a dotted attribute path such as "pkg.mod:Class.create" works too); the module is
   imported with the working folder first on the path (`mlpbench.impls.targets`, docs/targets.md);
4. a mutant ("mutant-..."): torch-cpu with one injected bug, listed in mlpbench.impls.mutant_table and built by
   mlpbench.impls.mutants, or torch-ddp with one data-parallel bug, from mlpbench.impls.ddp_mutants.

Factories are lazy: importing this module imports neither torch nor any implementation, so listing is fast and
works without torch installed (torch-based entries then report themselves unavailable with the reason).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata

from mlpbench.impls.interface import Implementation
from mlpbench.impls.mutant_table import DDP_MUTANTS, MUTANTS, DDPMutantSpec, MutantSpec
from mlpbench.impls.targets import describe_object, did_you_mean

ENTRY_POINT_GROUP = "mlpbench.implementations"


class UnknownImplementation(ValueError):
    """A name that does not resolve to an implementation, or one whose building failed; the message is one line.

    not_found: the name refers to no implementation (nothing, or something that is not one: a usage error), as
    opposed to an implementation that exists but failed to import or build (a failure of that implementation)."""

    def __init__(self, message: str, *, not_found: bool = False) -> None:
        super().__init__(message)
        self.not_found = not_found


@dataclass(frozen=True)
class Entry:
    """A registered implementation: `factory()` builds it.

    kind: "built-in", "plug-in" or "mutant". breaks: for a mutant, the capability area (mlpbench.impls.interface.AREAS)
    whose checks should catch its bug; empty otherwise.
    """

    name: str
    kind: str
    factory: Callable[[], Implementation]
    description: str
    breaks: str = ""


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _reference() -> Implementation:
    from mlpbench.impls.reference_impl import ReferenceImplementation

    return ReferenceImplementation()


def _torch(device: str, precision: str = "ieee", optimizer_path: str = "default",
           name: str | None = None) -> Callable[[], Implementation]:
    def factory() -> Implementation:
        from mlpbench.impls.torch_impl import TorchImplementation

        return TorchImplementation(device=device, precision=precision, name=name, optimizer_path=optimizer_path)

    return factory


def _engine(module: str, cls: str, **kwargs: object) -> Callable[[], Implementation]:
    """A factory that imports `mlpbench.impls.<module>` only when called and builds `cls(**kwargs)`."""

    def factory() -> Implementation:
        return getattr(importlib.import_module(f"mlpbench.impls.{module}"), cls)(**kwargs)

    return factory


def _torch_ddp(device: str, world_size: int | None = None) -> Callable[[], Implementation]:
    def factory() -> Implementation:
        from mlpbench.impls.ddp_impl import DEFAULT_WORLD_SIZE, TorchDDPImplementation

        return TorchDDPImplementation(world_size or DEFAULT_WORLD_SIZE, device)

    return factory


SIZED_BUILT_INS = {"torch-ddp": "cpu", "torch-ddp-cuda": "cuda"}
"""Built-ins that take a world size in their name: "torch-ddp:4" is torch-ddp with 4 ranks."""


def _sized_built_in(name: str) -> Implementation | None:
    """"torch-ddp:N" and "torch-ddp-cuda:N" (None for any other name)."""
    base, _, size = name.partition(":")
    if base not in SIZED_BUILT_INS or not size:
        return None
    from mlpbench.impls.ddp_impl import parse_world_size

    try:
        world_size = parse_world_size(size)
    except ValueError as error:
        raise UnknownImplementation(f"{name!r}: {error}", not_found=True) from None
    return instantiate(_torch_ddp(SIZED_BUILT_INS[base], world_size), name)


BUILT_INS: tuple[Entry, ...] = (
    Entry("reference", "built-in", _reference, "the NumPy oracle itself (float32 and float64)"),
    Entry("torch-cpu", "built-in", _torch("cpu"), "PyTorch on the CPU (torch.nn, torch.optim, autograd)"),
    Entry("torch-cuda", "built-in", _torch("cuda"), "PyTorch on a CUDA GPU, TF32 off"),
    Entry(
        "torch-cuda-tf32", "built-in", _torch("cuda", "tf32"), "PyTorch on a CUDA GPU, TF32 matmuls allowed"
    ),
    Entry("torch-ddp", "built-in", _torch_ddp("cpu"),
          "PyTorch DistributedDataParallel on the CPU (gloo), 2 ranks; torch-ddp:N for N ranks"),
    Entry("torch-ddp-cuda", "built-in", _torch_ddp("cuda"),
          "PyTorch DistributedDataParallel on CUDA GPUs (NCCL), 2 ranks; torch-ddp-cuda:N for N ranks"),
    Entry("torch-cpu-foreach", "built-in", _torch("cpu", optimizer_path="foreach", name="torch-cpu-foreach"),
          "PyTorch on the CPU, torch.optim's foreach (multi-tensor) path"),
    Entry("torch-cpu-fused", "built-in", _torch("cpu", optimizer_path="fused", name="torch-cpu-fused"),
          "PyTorch on the CPU, torch.optim's fused kernels (SGD, Adam, AdamW, Adagrad)"),
    Entry("torch-cpu-compile", "built-in",
          _engine("torch_compiled", "TorchCompiledImplementation", device="cpu", name="torch-cpu-compile"),
          "PyTorch on the CPU, the training step under torch.compile"),
    Entry("torch-cuda-fused", "built-in", _torch("cuda", optimizer_path="fused", name="torch-cuda-fused"),
          "PyTorch on a CUDA GPU, torch.optim's fused kernels (SGD, Adam, AdamW), TF32 off"),
    Entry("torch-cuda-compile", "built-in",
          _engine("torch_compiled", "TorchCompiledImplementation", device="cuda", name="torch-cuda-compile"),
          "PyTorch on a CUDA GPU, the training step under torch.compile, TF32 off"),
    Entry("torch-cuda-graphs", "built-in",
          _engine("torch_graphs", "TorchGraphedImplementation", device="cuda", name="torch-cuda-graphs"),
          "PyTorch on a CUDA GPU, the training step captured in a CUDA graph, TF32 off"),
    Entry("jax-cpu", "built-in", _engine("jax_impl", "JaxImplementation", device="cpu"),
          "JAX with optax on the CPU, jitted training step (optax profile)"),
    Entry("jax-cuda", "built-in", _engine("jax_impl", "JaxImplementation", device="cuda"),
          "JAX with optax on a CUDA GPU, jitted training step (optax profile)"),
    Entry("keras", "built-in", _engine("keras_impl", "KerasImplementation"),
          "Keras 3 on its JAX backend, CPU (keras profile)"),
    Entry("sklearn-cpu", "built-in", _engine("sklearn_impl", "SklearnImplementation"),
          "scikit-learn's MLP internals (_backprop, SGDOptimizer, AdamOptimizer) on the CPU (sklearn profile)"),
    Entry("mlx-cpu", "built-in", _engine("mlx_impl", "MlxImplementation"),
          "MLX on its CPU device: mlx.nn, mlx.optimizers, mx.value_and_grad (mlx profile)"),
    Entry("tinygrad-cpu", "built-in", _engine("tinygrad_impl", "TinygradImplementation"),
          "tinygrad on its CPU device, which compiles kernels with clang (availability only, no claim yet)"),
)


OPT_IN: dict[str, str] = {
    "torch-cpu-compile": "compiles every step with TorchInductor (minutes on a CPU); its proof is "
                         "`mlpbench check --impl torch-cpu-compile`, or pytest with "
                         "--mlpbench-impl torch-cpu-compile",
}
"""Built-ins the default pytest session does not check (it shows them skipped with this reason); naming one
with --impl (pytest: --mlpbench-impl) checks it."""


def instantiate(obj: object, label: str) -> Implementation:
    """An Implementation from a subclass, an instance or a factory returning one; unnamed ones get `label`.

    Anything else, and a factory returning anything else, is a target that names no implementation: an
    UnknownImplementation with not_found set (a usage error), naming what was found. A factory that raises is
    a failure of the implementation (not_found unset)."""
    if not (isinstance(obj, Implementation) or callable(obj)) or (
            isinstance(obj, type) and not issubclass(obj, Implementation)):
        raise UnknownImplementation(f"{label!r} names {describe_object(obj)}, {NOT_AN_IMPLEMENTATION}",
                                    not_found=True)
    try:
        impl = obj if isinstance(obj, Implementation) else obj()
    except UnknownImplementation:  # a factory of ours that resolves further (an entry point, a mutant)
        raise
    except Exception as error:
        raise UnknownImplementation(
            f"building implementation {label!r} failed: {type(error).__name__}: {_one_line(error)}"
        ) from error
    if not isinstance(impl, Implementation):
        raise UnknownImplementation(f"{label!r} returned {describe_object(impl)}, {NOT_AN_IMPLEMENTATION}",
                                    not_found=True)
    if impl.name == Implementation.name:
        impl.name = label
    return impl


NOT_AN_IMPLEMENTATION = ("not an mlpbench.impls.interface.Implementation (a subclass, an instance, or a factory "
                         "returning one)")


def _plugin_factory(entry_point: metadata.EntryPoint) -> Callable[[], Implementation]:
    def factory() -> Implementation:
        try:
            target = entry_point.load()
        except Exception as error:
            raise UnknownImplementation(
                f"loading entry point {entry_point.name!r} ({entry_point.value}) failed: "
                f"{type(error).__name__}: {_one_line(error)}"
            ) from error
        return instantiate(target, entry_point.name)

    return factory


def plugin_entries() -> list[Entry]:
    """Entry points of the group "mlpbench.implementations" (a name taken by a built-in is skipped)."""
    taken = {entry.name for entry in BUILT_INS}
    found = []
    for entry_point in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name):
        if entry_point.name not in taken:
            taken.add(entry_point.name)
            found.append(
                Entry(
                    entry_point.name,
                    "plug-in",
                    _plugin_factory(entry_point),
                    f"entry point {entry_point.value}",
                )
            )
    return found


def _mutant(spec: MutantSpec) -> Callable[[], Implementation]:
    def factory() -> Implementation:
        try:
            from mlpbench.impls.mutants import Mutant
        except ImportError as error:
            raise UnknownImplementation(
                f"mutant {spec.name!r} unavailable: importing mlpbench.impls.mutants failed "
                f"({type(error).__name__}: {_one_line(error)})"
            ) from error
        return Mutant(spec)

    return factory


def mutant_entries() -> list[Entry]:
    """The mutants of mlpbench.impls.mutant_table; each factory imports mlpbench.impls.mutants (and torch) only
    when called."""
    return [Entry(spec.name, "mutant", _mutant(spec), spec.description, spec.breaks) for spec in MUTANTS]


def _ddp_mutant(spec: DDPMutantSpec) -> Callable[[], Implementation]:
    def factory() -> Implementation:
        try:
            import mlpbench.impls.ddp_mutants as module
        except ImportError as error:
            raise UnknownImplementation(
                f"mutant {spec.name!r} unavailable: importing mlpbench.impls.ddp_mutants failed "
                f"({type(error).__name__}: {_one_line(error)})"
            ) from error
        return getattr(module, spec.swap)()

    return factory


def ddp_mutant_entries() -> list[Entry]:
    """The data-parallel mutants of mlpbench.impls.mutant_table; each factory imports mlpbench.impls.ddp_mutants
    only when called."""
    return [Entry(spec.name, "mutant", _ddp_mutant(spec), spec.description, spec.breaks) for spec in DDP_MUTANTS]


def entries(include_mutants: bool = True) -> list[Entry]:
    """Every registered implementation: built-ins, plug-ins, then (optionally) mutants."""
    found = list(BUILT_INS) + plugin_entries()
    if include_mutants:
        found += mutant_entries() + ddp_mutant_entries()
    return found


def _from_module_path(name: str) -> Implementation:
    module_name, _, attribute = name.partition(":")
    if not module_name or not attribute:
        raise UnknownImplementation(f"{name!r} is not of the form package.module:factory", not_found=True)
    try:
        target: object = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name is not None and module_name.startswith(error.name):
            raise UnknownImplementation(
                f"unknown implementation {name!r}: no module named {error.name!r} in the working folder "
                f"{os.getcwd()} or on the Python path (docs/targets.md)", not_found=True) from error
        raise UnknownImplementation(
            f"cannot import module {module_name!r} for implementation {name!r}: {type(error).__name__}: "
            f"{_one_line(error)}"
        ) from error
    except Exception as error:
        raise UnknownImplementation(
            f"cannot import module {module_name!r} for implementation {name!r}: {type(error).__name__}: "
            f"{_one_line(error)}"
        ) from error
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise UnknownImplementation(
                f"module {module_name!r} has no attribute {attribute!r} (from {name!r})", not_found=True
            )
        target = getattr(target, part)
    return instantiate(target, name)


def resolve(name: str) -> Implementation:
    """The implementation a registry name, entry point name, or "package.module:factory" refers to.

    Raises UnknownImplementation (a ValueError) with a one-line message when nothing matches or building
    fails.
    """
    for entry in list(BUILT_INS) + plugin_entries():
        if entry.name == name:
            return instantiate(entry.factory, name)
    sized = _sized_built_in(name)
    if sized is not None:
        return sized
    if ":" in name:
        return _from_module_path(name)
    mutants = mutant_entries() + ddp_mutant_entries()
    for entry in mutants:
        if entry.name == name:
            return instantiate(entry.factory, name)
    known = [entry.name for entry in entries(include_mutants=False) + mutants]
    raise UnknownImplementation(
        f"unknown implementation {name!r}{did_you_mean(name, known)} (`mlpbench list` shows the registered "
        f"names; or an entry point of group {ENTRY_POINT_GROUP!r}, or package.module:factory)", not_found=True
    )
