"""Misbehaving implementations for the gate's fault catalogue (suites/cli/test_cli_faults.py).

Each factory builds a small NumPy adapter that claims sigmoid and tanh (float64) and misbehaves in one way.
The well-behaved base passes `mlpbench check`; every fault below must be caught by the gate with its own exit
code and message, and never take the gate down.
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
import time
from dataclasses import dataclass, replace

import numpy as np

from mlpbench.impls.interface import Capabilities, Implementation, LossClaim

ACTIVATIONS = {
    "sigmoid": (lambda x: 1.0 / (1.0 + np.exp(-x)), lambda x, y: y * (1.0 - y)),
    "tanh": (np.tanh, lambda x, y: 1.0 - y * y),
}


class Good(Implementation):
    """Sigmoid and tanh in float64, correct."""

    name = "fault-base"
    claims = Capabilities(activations=frozenset(ACTIVATIONS), dtypes=frozenset({"float64"}))

    def capabilities(self) -> Capabilities:
        return self.claims

    def values(self, name: str, x: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return ACTIVATIONS[name][0](x)

    def activation(self, name, x, params):
        return self.values(name, x)

    def activation_grad(self, name, x, grad_y, params):
        y = self.values(name, x)
        return grad_y * ACTIVATIONS[name][1](x, y)


def _fault(method: str, action):
    """A subclass of Good whose `method` runs `action(self, result, *args)` for sigmoid (tanh stays correct)."""

    class Faulty(Good):
        pass

    def faulty(self, name, x, *rest):
        result = getattr(Good, method)(self, name, x, *rest)
        if name == "sigmoid":
            return action(self, result, x)
        return result

    setattr(Faulty, method, faulty)
    return Faulty


def _raise(error):
    def action(self, result, x):
        raise error

    return action


def _sleep(self, result, x):
    time.sleep(3600)


def _gil_hang(self, result, x):
    re.match(r"(a+)+$", "a" * 64 + "b")  # catastrophic backtracking inside the regex engine, holding the GIL


def _segfault(self, result, x):
    ctypes.string_at(0)


def _flood(self, result, x):
    for _ in range(20_000):
        print("x" * 500)
    return result


def _mutate(self, result, x):
    x[...] = 0.0
    return result


def _nondeterministic(self, result, x):
    return result + np.random.default_rng().normal(size=result.shape) * 1e-300


good = Good
raises = _fault("activation", _raise(RuntimeError("the sigmoid kernel is broken")))
hangs = _fault("activation", _sleep)
gil_hang = _fault("activation", _gil_hang)
nan = _fault("activation", lambda self, r, x: np.full_like(r, np.nan))
inf = _fault("activation", lambda self, r, x: np.full_like(r, np.inf))
wrong_shape = _fault("activation", lambda self, r, x: r[:-1])
wrong_dtype = _fault("activation", lambda self, r, x: r.astype(np.float32))
mutates_input = _fault("activation", _mutate)
returns_list = _fault("activation", lambda self, r, x: r.tolist())
returns_none = _fault("activation", lambda self, r, x: None)
os_exit_0 = _fault("activation", lambda self, r, x: os._exit(0))
os_exit_3 = _fault("activation", lambda self, r, x: os._exit(3))
sys_exit_in_method = _fault("activation", lambda self, r, x: sys.exit(0))
segfault = _fault("activation", _segfault)
memory_error = _fault("activation", _raise(MemoryError()))
floods_output = _fault("activation", _flood)
ansi_message = _fault("activation", _raise(ValueError("\x1b[31mred\x1b[0m \x00\x07\x1b]0;title\x07 <&> ]]>")))
grad_exits = _fault("activation_grad", lambda self, r, x: os._exit(0))
nondeterministic_activation = _fault("activation", _nondeterministic)


def sys_exit_in_factory():
    sys.exit(0)


def factory_raises():
    raise ImportError("a dependency of the adapter is missing")


class CapabilitiesRaise(Good):
    def capabilities(self):
        raise RuntimeError("capabilities are computed from a config file that is missing")


class AvailabilityRaises(Good):
    def availability(self):
        raise RuntimeError("probing the device crashed")


def _claiming(**changes):
    class Claims(Good):
        claims = replace(Good.claims, **changes)

    return Claims


unknown_activation = _claiming(activations=frozenset({"Sigmoid"}))
unknown_loss = _claiming(losses={"bce": LossClaim()})
unknown_option = _claiming(optimizers={"adam": frozenset({"betas"})})
unknown_dtype = _claiming(dtypes=frozenset({"f64"}))
unknown_dtype_bfloat16 = _claiming(dtypes=frozenset({"bfloat16"}))
unknown_reduction = _claiming(losses={"mse": LossClaim(reductions={"avg"})})
unknown_optimizer = _claiming(optimizers={"adamm": frozenset()})
empty_claims = _claiming(activations=frozenset())
float32_only_claim = _claiming(dtypes=frozenset({"float32"}))


class NondeterministicOptimizer(Good):
    """Plain SGD whose result carries a tiny random perturbation: within tolerance, but not bitwise repeatable
    although it claims determinism."""

    claims = replace(Good.claims, optimizers={"sgd": frozenset()})

    def optimizer_run(self, name, hyper, params, grads_per_step):
        params = [p.copy() for p in params]
        for grads in grads_per_step:
            for p, g in zip(params, grads, strict=True):
                p -= hyper["lr"] * g
        noise = np.random.default_rng()
        return [p * (1 + noise.uniform(-1, 1) * 1e-15) for p in params], {"step": len(grads_per_step)}


def _note_call(method: str) -> None:
    """Append `method` to the file named by FAULTY_CALLS, if set: a test waits on it instead of a clock."""
    path = os.environ.get("FAULTY_CALLS")
    if path:
        with open(path, "a") as calls:
            calls.write(method + "\n")


class SlowEverywhere(Good):
    """Correct but slow: each call takes two seconds (for interrupting a run); each call's start is noted."""

    def activation(self, name, x, params):
        _note_call("activation")
        time.sleep(2.0)
        return super().activation(name, x, params)

    def activation_grad(self, name, x, grad_y, params):
        _note_call("activation_grad")
        time.sleep(2.0)
        return super().activation_grad(name, x, grad_y, params)


class _HangingTrainer:
    def step(self):
        time.sleep(3600)

    def synchronize(self):
        return None


class HangingStep(Good):
    """A benchmark trainer whose step never returns."""

    def make_trainer(self, spec, params, x, target, loss, optimizer, hyper):
        return _HangingTrainer()


# -- faults of the trust boundary: what an implementation does in its own process must not reach the verdict --

class _ReadsNumpyAtCallTime(Good):
    """Sigmoid computed with whatever `numpy.exp` is when it is called (not captured at import)."""

    def values(self, name: str, x: np.ndarray) -> np.ndarray:
        if name == "sigmoid":
            with np.errstate(over="ignore"):
                return 1.0 / (1.0 + np.exp(-x))
        return super().values(name, x)


def patches_numpy_and_the_oracle():
    """"Fast math" in its own process: numpy.exp 0.1 % off, the oracle's sigmoid patched to agree with it,
    NumPy's comparison helpers made to agree with anything, global NumPy state changed, the working folder and
    umask moved. Its sigmoid is 0.1 % off; none of this may move the gate's expected value or verdict."""
    import mlpbench.reference.activations as oracle_activations

    true_exp = np.exp

    def off_exp(x, *args, **kwargs):
        return true_exp(x, *args, **kwargs) * 1.001

    np.exp = off_exp

    def off_sigmoid(x, **params):
        with np.errstate(over="ignore"):
            return 1.0 / (1.0 + off_exp(-np.asarray(x, dtype=np.float64)))

    def off_sigmoid_derivative(x, **params):
        y = off_sigmoid(x)
        return y * (1.0 - y)

    oracle_activations.ACTIVATIONS["sigmoid"] = replace(oracle_activations.ACTIVATIONS["sigmoid"],
                                                        forward=off_sigmoid, derivative=off_sigmoid_derivative)
    np.allclose = lambda *a, **k: True  # noqa: ARG005  (a comparison that always agrees)
    np.array_equal = lambda *a, **k: True  # noqa: ARG005
    np.seterr(all="ignore")
    np.set_printoptions(precision=1, threshold=3)
    os.chdir("/")
    os.umask(0o777)
    return _ReadsNumpyAtCallTime()


class SharedBuffersOptimizer(Good):
    """Plain SGD that writes its result into one set of buffers it keeps and returns those same arrays on every
    call (as `.numpy()` views of a framework's tensors are), with a tiny random perturbation: two calls give
    one object, so in one process the determinism check would compare a result with itself."""

    claims = replace(Good.claims, optimizers={"sgd": frozenset()})

    def __init__(self) -> None:
        self._buffers: list[np.ndarray] = []

    def optimizer_run(self, name, hyper, params, grads_per_step):
        if [b.shape for b in self._buffers] != [p.shape for p in params]:
            self._buffers = [np.empty_like(p) for p in params]
        noise = np.random.default_rng()
        for buffer, p in zip(self._buffers, params, strict=True):
            buffer[...] = p
        for grads in grads_per_step:
            for buffer, g in zip(self._buffers, grads, strict=True):
                buffer -= hyper["lr"] * g
        for buffer in self._buffers:
            buffer *= 1 + noise.uniform(-1, 1) * 1e-15
        return self._buffers, {"step": len(grads_per_step)}


class ForksAChild(Good):
    """Starts a long-lived child process in its first call (holding whatever the worker holds)."""

    def activation(self, name, x, params):
        if not getattr(self, "_child", None):
            import subprocess

            self._child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        return super().activation(name, x, params)


def starts_a_helper_process():
    """A factory that starts a helper process (a server the adapter talks to) and returns a correct adapter."""
    import subprocess

    helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    impl = Good()
    impl.helper = helper  # type: ignore[attr-defined]
    return impl


class Tensor:
    """A framework's array type, which is not plain data."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = values


returns_a_tensor = _fault("activation", lambda self, r, x: Tensor(r))


@dataclass
class OwnResult:
    """An adapter's own result record with the interface's field names (duck-typed like ModelResult)."""

    output: np.ndarray
    loss: np.ndarray
    param_grads: list
    input_grad: np.ndarray


class OwnResultRecord(Implementation):
    """A correct tanh network whose forward_backward returns its own record type instead of ModelResult."""

    name = "own-result-record"

    def capabilities(self) -> Capabilities:
        return Capabilities(activations=frozenset({"tanh"}), losses={"mse": LossClaim(reductions={"mean"})},
                            dtypes=frozenset({"float64"}), model=True)

    def activation(self, name, x, params):
        return np.tanh(x)

    def activation_grad(self, name, x, grad_y, params):
        return grad_y * (1.0 - np.tanh(x) ** 2)

    def loss(self, name, pred, target, reduction, params):
        diff = pred - target
        return np.asarray((diff**2).mean()), 2.0 * diff / diff.size

    def forward_backward(self, spec, params, x, target, loss, *, reduction="mean", loss_params=None,
                         training=False, dropout_seed=None):
        inputs, pre, a = [], [], x
        for layer in range(spec.n_layers):
            inputs.append(a)
            z = a @ params[2 * layer].T + params[2 * layer + 1]
            pre.append(z)
            a = np.tanh(z) if layer < spec.n_layers - 1 else z
        delta = 2.0 * (a - target) / a.size
        value = np.asarray(((a - target) ** 2).mean())
        grads: list = [None] * len(params)
        for layer in reversed(range(spec.n_layers)):
            grads[2 * layer] = delta.T @ inputs[layer]
            grads[2 * layer + 1] = delta.sum(axis=0)
            grad_a = delta @ params[2 * layer]
            if layer:
                delta = grad_a * (1.0 - np.tanh(pre[layer - 1]) ** 2)
        return OwnResult(a, value, grads, grad_a)
