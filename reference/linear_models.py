"""Linear and logistic regression as one-layer MLPs, and the least-squares closed form.

Linear regression is the MLP (n_in, n_out) with identity output trained on MSE; logistic regression is
(n_in, 1) with a sigmoid output trained on binary cross-entropy (a perceptron with a smooth activation).
"""

from __future__ import annotations

import numpy as np

from mlpbench.reference.spec import MLPSpec


def normal_equation(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The least-squares minimizer of sum ||x W^T + b - y||^2, returned as (W (out, in), b (out,)).

    With the design matrix X~ = [x, 1]: theta = argmin ||X~ theta - y||^2 solves X~^T X~ theta = X~^T y
    (computed with a least-squares solver rather than an explicit inverse). y of shape (N,) means out = 1.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    targets = y.reshape(-1, 1) if y.ndim == 1 else y
    if x.ndim != 2 or targets.shape[0] != x.shape[0]:
        raise ValueError(f"x must be (N, n) and y (N,) or (N, k) with the same N; got {x.shape}, {y.shape}")
    design = np.hstack([x, np.ones((x.shape[0], 1))])
    theta, *_ = np.linalg.lstsq(design, targets, rcond=None)
    return theta[:-1].T.copy(), theta[-1].copy()


def linear_regression_spec(n_in: int, n_out: int = 1) -> MLPSpec:
    """y = x W^T + b: one dense layer, identity output (train with "mse")."""
    return MLPSpec((n_in, n_out), output_activation="identity")


def logistic_regression_spec(n_in: int) -> MLPSpec:
    """p = sigmoid(x w + b): one dense layer to one unit, sigmoid output (train with binary cross-entropy)."""
    return MLPSpec((n_in, 1), output_activation="sigmoid")
