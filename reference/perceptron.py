"""The classic perceptron algorithm (Rosenblatt): a step-activated linear unit trained point by point.

Output:  y_hat = step(w . x + b) in {0, 1}, with step(t) = 1 if t >= 0 else 0; as a label in {-1, +1}:
         y_hat = +1 if w . x + b >= 0 else -1.
Update on a misclassified point (x, y), y in {-1, +1}:   w <- w + lr * y * x,   b <- b + lr * y.
(Equivalently: add lr * x when the point should be positive, subtract it when it should be negative.)
If the data are linearly separable the algorithm stops making mistakes after finitely many updates
(Novikoff); otherwise, e.g. XOR, every epoch has at least one mistake.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mlpbench.reference.activations import step


@dataclass
class PerceptronResult:
    """Final weights and bias, whether an epoch passed without mistakes, epochs run, mistakes per epoch."""

    weights: np.ndarray
    bias: float
    converged: bool
    epochs: int
    errors_per_epoch: list[int] = field(default_factory=list)


def step_output(weights: np.ndarray, bias: float, x: np.ndarray) -> np.ndarray:
    """step(x w + b) in {0, 1} for x of shape (N, n) or (n,)."""
    return step(np.asarray(x, dtype=np.float64) @ np.asarray(weights, dtype=np.float64) + bias)


def predict(weights: np.ndarray, bias: float, x: np.ndarray) -> np.ndarray:
    """The perceptron's label in {-1, +1}: +1 where x w + b >= 0."""
    return 2.0 * step_output(weights, bias, x) - 1.0


def perceptron_update(
    weights: np.ndarray, bias: float, x: np.ndarray, y: float, lr: float
) -> tuple[np.ndarray, float]:
    """One update towards the point x of label y in {-1, +1}: (w + lr y x, b + lr y); inputs unchanged."""
    return np.asarray(weights, dtype=np.float64) + lr * y * np.asarray(x, dtype=np.float64), bias + lr * y


def train_perceptron(
    x: np.ndarray,
    y: np.ndarray,
    lr: float = 1.0,
    max_epochs: int = 100,
    w0: np.ndarray | None = None,
    b0: float = 0.0,
) -> PerceptronResult:
    """Sweep the points in order, updating on every misclassified one, until an epoch has no mistakes.

    x: (N, n); y: labels in {-1, +1}; w0 defaults to zeros.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ValueError(f"x must be (N, n) and y (N,); got {x.shape} and {y.shape}")
    if not np.all(np.isin(y, (-1.0, 1.0))):
        raise ValueError("perceptron labels must be -1 or +1")
    weights = np.zeros(x.shape[1]) if w0 is None else np.array(w0, dtype=np.float64)
    bias = float(b0)
    errors_per_epoch: list[int] = []
    for _ in range(max_epochs):
        errors = 0
        for point, label in zip(x, y, strict=True):
            if predict(weights, bias, point) != label:
                weights, bias = perceptron_update(weights, bias, point, label, lr)
                errors += 1
        errors_per_epoch.append(errors)
        if errors == 0:
            return PerceptronResult(weights, bias, True, len(errors_per_epoch), errors_per_epoch)
    return PerceptronResult(weights, bias, False, len(errors_per_epoch), errors_per_epoch)
