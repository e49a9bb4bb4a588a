"""The one case catalogue: the architectures, activations, losses, optimizers with options, dtypes, sizes and
seeds that both the conformance checks and the benchmarks read.

`models` holds the named architectures; `conformance` the conformance cases; `benchmark` the timing grid.
"""
