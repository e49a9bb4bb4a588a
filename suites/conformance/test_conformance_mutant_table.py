"""The mutant table: torch-free data that the registry lists, and the generic Mutant built from each row."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mlpbench.impls.interface import AREAS
from mlpbench.impls.mutant_table import DDP_MUTANTS, HOOK_NAMES, MUTANTS, MutantSpec


def run_python(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return result.stdout.strip()


def test_listing_mutants_does_not_import_torch() -> None:
    code = (
        "import sys, mlpbench.impls.mutant_table, mlpbench.impls.registry as r\n"
        "listed = [e for e in r.entries() if e.kind == 'mutant']\n"
        "print(len(listed), 'torch' in sys.modules, 'mlpbench.impls.mutants' in sys.modules,\n"
        "      'mlpbench.impls.ddp_mutants' in sys.modules)"
    )
    assert run_python(code) == f"{len(MUTANTS) + len(DDP_MUTANTS)} False False False"


def test_a_mutant_without_torch_is_unavailable_with_a_one_line_reason() -> None:
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from mlpbench.impls.registry import UnknownImplementation, resolve\n"
        "try:\n"
        "    resolve('mutant-bce-no-clamp')\n"
        "except UnknownImplementation as error:\n"
        "    print(repr(str(error)))\n"
    )
    message = run_python(code)
    assert "\n" not in message
    assert "mutant 'mutant-bce-no-clamp' unavailable: importing mlpbench.impls.mutants failed (" in message
    assert "torch" in message


def test_the_table_is_well_formed() -> None:
    names = [spec.name for spec in MUTANTS]
    assert len(names) == len(set(names)) >= 16
    for spec in MUTANTS:
        assert spec.name.startswith("mutant-")
        assert spec.breaks in AREAS
        assert spec.hook in HOOK_NAMES
        assert spec.description and "\n" not in spec.description
        assert spec.swap.isidentifier()


def test_an_unknown_hook_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown hook 'optimiser'"):
        MutantSpec("mutant-x", "optimizers", "x", hook="optimiser", key="sgd", swap="SGDWithoutDampening")


def test_key_selects_the_names_a_swap_applies_to() -> None:
    single = MutantSpec("mutant-x", "optimizers", "x", hook="optimizer", key="sgd", swap="X")
    several = MutantSpec("mutant-y", "init", "y", hook="init", key=("kaiming_uniform", "kaiming_normal"), swap="Y")
    always = MutantSpec("mutant-z", "losses", "z", hook="loss", key=None, swap="Z")
    assert single.applies_to("sgd") and not single.applies_to("adam")
    assert several.applies_to("kaiming_normal") and not several.applies_to("xavier_uniform")
    assert always.applies_to("mse")


def test_every_hook_and_swap_exists() -> None:
    pytest.importorskip("torch")
    from mlpbench.impls import mutants
    from mlpbench.impls.torch_impl import TorchImplementation

    assert set(mutants.HOOKS) == set(HOOK_NAMES)
    for hook in mutants.HOOKS.values():
        assert callable(getattr(TorchImplementation, hook.method))
    for spec in MUTANTS:
        assert callable(getattr(mutants, spec.swap, None)), f"{spec.name}: mlpbench.impls.mutants has no {spec.swap}"
        assert spec.key is None or mutants.HOOKS[spec.hook].keyed, f"{spec.name}: hook {spec.hook} takes no key"


def test_a_key_on_a_hook_without_names_is_refused() -> None:
    pytest.importorskip("torch")
    from mlpbench.impls.mutants import Mutant

    spec = MutantSpec("mutant-x", "dropout", "x", hook="dropout", key="p", swap="UnscaledDropout")
    with pytest.raises(ValueError, match="takes no key"):
        Mutant(spec)


def test_a_mutant_swaps_only_its_hook_for_its_key() -> None:
    torch = pytest.importorskip("torch")
    from mlpbench.impls.mutants import AdamWithoutBiasCorrection, Mutant
    from mlpbench.impls.registry import resolve

    spec = next(spec for spec in MUTANTS if spec.name == "mutant-adam-no-bias-correction")
    impl = Mutant(spec)
    assert (impl.name, impl.kind, impl.breaks, impl.description) == (spec.name, "mutant", spec.breaks, spec.description)
    params = [torch.nn.Parameter(torch.zeros(2))]
    assert type(impl.make_optimizer("adam", params, {"lr": 0.1})) is AdamWithoutBiasCorrection
    assert type(impl.make_optimizer("sgd", params, {"lr": 0.1})) is torch.optim.SGD
    assert type(resolve("torch-cpu").make_optimizer("adam", params, {"lr": 0.1})) is torch.optim.Adam
    assert type(resolve(spec.name)) is Mutant
