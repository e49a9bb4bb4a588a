"""Named architectures shared by the conformance checks and the benchmarks."""

from __future__ import annotations

from mlpbench.reference.spec import MLPSpec

MODELS: dict[str, MLPSpec] = {
    # the seeds' small binary classifier (10 features, two hidden layers)
    "seed-10-64-32-1": MLPSpec((10, 64, 32, 1), activation="relu"),
    # the seeds' MNIST-sized classifier
    "mnist-784-256-256-10": MLPSpec((784, 256, 256, 10), activation="relu"),
    # a wide network: four dense layers of width 1024
    "wide-4x1024": MLPSpec((1024, 1024, 1024, 1024, 10), activation="relu"),
}


def parse_layer_sizes(text: str, activation: str = "relu") -> MLPSpec:
    """A user-given architecture such as "128-512-512-10" (dash or comma separated)."""
    parts = text.replace(",", "-").split("-")
    try:
        sizes = tuple(int(p) for p in parts if p.strip())
    except ValueError:
        raise ValueError(f"layer sizes must be integers separated by '-', got {text!r}") from None
    return MLPSpec(sizes, activation=activation)


def model_by_name(name: str) -> MLPSpec:
    """A catalogue model, or user-given layer sizes like "32-64-1"."""
    if name in MODELS:
        return MODELS[name]
    if name.replace("-", "").replace(",", "").isdigit():
        return parse_layer_sizes(name)
    raise ValueError(f"unknown model {name!r}; known: {', '.join(MODELS)} or layer sizes like 32-64-1")
