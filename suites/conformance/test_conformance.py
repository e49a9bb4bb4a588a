"""Conformance of every selected implementation: one test per catalogue case (with the coverage cases that
follow the implementation's claim) and claimed dtype, with ids such as `torch-cpu/activations/gelu[float32]`,
each run by the mlpbench pytest plugin through the same supervised worker as `mlpbench check`. Selected: the
`--mlpbench-impl` targets, else every registered implementation but the mutants (suites/conftest.py). A failure
shows the check's diagnostic; a case the implementation does not claim, or that cannot run here, is a skip
with the reason."""

from __future__ import annotations

from mlpbench.testing import conformance_tests

test_conformance = conformance_tests(None)
