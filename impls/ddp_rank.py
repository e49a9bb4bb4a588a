"""One rank of a data-parallel run: torch.distributed (gloo on the CPU, NCCL on CUDA) and DistributedDataParallel.

A rank process (started by `mlpbench.impls.ddp_pool.RankPool`) joins the process group, then serves requests from the
adapter (`mlpbench.impls.ddp_impl`) until its pipe closes: every rank receives the whole global batch and works on its
own shard of rows, `shard_bounds(n, world_size)[rank]` (contiguous rows, the first n mod world_size ranks one
row more, a rank with no rows when n < world_size).

Semantics (the oracle's, for any world size):
- loss: the global-batch loss. With reduction "mean" each rank contributes mean_r * n_r / N (its local mean
  weighted by its share of the samples), with "sum" its local sum; the contributions are all-reduced (summed).
  The mean of the per-rank means would be wrong whenever shards are uneven.
- gradients: each rank back-propagates world_size * its contribution and DDP all-reduces the gradients and
  divides by world_size, which leaves the gradient of the global loss. The input gradient of a shard is its
  rows of the global input gradient.
- initial parameters: the suite's parameters are loaded on rank 0 only; DDP's construction broadcasts them from
  rank 0 (the other ranks start from their own random initialization, which the broadcast overwrites).
- dropout: every rank seeds torch's generator with the suite's dropout seed and draws the keep-mask of the
  whole global batch, exactly as a single process does, then keeps its own rows. The masks of a run are
  therefore those of the single-process run for any world size, no two ranks share a mask row, and no rank
  draws a mask the suite's seed does not determine.
- optimizer: every rank steps its own replica with the same all-reduced gradients (DDP's design).

The engine is built from overridable methods (`contribution`, `wrap`, `dropout_seed`, `dropout_noise`,
`load_initial`) so that `mlpbench.impls.ddp_mutants` can inject one classic data-parallel bug each.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from mlpbench.impls.epochs import run_epochs
from mlpbench.impls.interface import TrainRequest, TrainResult
from mlpbench.impls.torch_impl import ModuleSteps, TorchImplementation, seeded, torch_dtype


def shard_bounds(n: int, world_size: int) -> list[tuple[int, int]]:
    """[start, stop) rows of each rank: contiguous, sizes differ by at most one, the larger ones first."""
    base, extra = divmod(n, world_size)
    bounds, start = [], 0
    for rank in range(world_size):
        stop = start + base + (1 if rank < extra else 0)
        bounds.append((start, stop))
        start = stop
    return bounds


@dataclass(frozen=True)
class RankConfig:
    """What a rank needs to join its process group."""

    rank: int
    world_size: int
    backend: str  # "gloo" | "nccl"
    device: str  # "cpu" | "cuda"
    store_port: int  # the TCPStore the adapter hosts on 127.0.0.1
    engine: str  # "module:Class" of the RankEngine subclass to run
    parent_pid: int
    threads: int  # torch intra-op threads per rank
    collective_timeout_s: float


class ShardDropout(nn.Module):
    """Inverted dropout on a shard: the noise comes from `engine.dropout_noise` (the global batch's, sliced)."""

    def __init__(self, engine: RankEngine, p: float) -> None:
        super().__init__()
        self.engine, self.p = engine, p
        self.masks: list[np.ndarray] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        noise = self.engine.dropout_noise(x, self.p)
        self.masks = [(noise != 0).to(dtype=x.dtype, device="cpu").numpy()]  # the last pass's keep-mask
        return x * noise


class RankEngine(TorchImplementation):
    """The work of one rank; torch building blocks (model, losses, optimizers) are TorchImplementation's."""

    def __init__(self, config: RankConfig) -> None:
        device = f"cuda:{config.rank}" if config.device == "cuda" else "cpu"
        super().__init__(device=device, name=f"rank {config.rank}")
        self.rank, self.world_size = config.rank, config.world_size
        self.rows = (0, 0, 0)  # start, stop, global batch: what ShardDropout slices
        self.dropouts: list[ShardDropout] = []

    # -- overridable parts (the data-parallel mutants replace one each) ------------------------------------
    def contribution(self, local: torch.Tensor, n_local: int, n_global: int, reduction: str) -> torch.Tensor:
        """This rank's share of the global loss: the shares of all ranks sum to it. `local` is the loss of the
        shard with `reduction` ("sum" for an empty shard)."""
        if reduction == "mean":
            return local * (n_local / n_global) if n_local else local
        return local

    def wrap(self, model: nn.Module) -> DistributedDataParallel:
        """DistributedDataParallel: parameters broadcast from rank 0, gradients all-reduced and averaged."""
        ids = [torch.device(self.device).index] if self.device.startswith("cuda") else None
        return DistributedDataParallel(model, device_ids=ids, init_sync=True)

    def load_initial(self, model: nn.Module, params: Sequence[np.ndarray]) -> None:
        """The suite's initial parameters on rank 0; DDP broadcasts them to the others."""
        if self.rank == 0:
            self.load_params(model, params)

    def dropout_seed(self, seed: int) -> int:
        """The seed every rank gives torch's generator: the suite's, unchanged."""
        return int(seed)

    def dropout_noise(self, x: torch.Tensor, p: float) -> torch.Tensor:
        """The scaled keep-noise (0 or 1/(1-p)) of this shard: drawn for the whole global batch as a single
        process draws it (same shape, dtype and device, so the generator advances identically), then sliced."""
        start, stop, total = self.rows
        ones = torch.ones((total,) + tuple(x.shape[1:]), dtype=x.dtype, device=x.device)
        return F.dropout(ones, p, training=True)[start:stop]

    # -- helpers -------------------------------------------------------------------------------------------
    def make_dropout(self, p: float) -> nn.Module:
        module = ShardDropout(self, p)
        self.dropouts.append(module)
        return module

    def build(self, spec: Any, dtype: torch.dtype, params: Sequence[np.ndarray], *, in_stream: bool = False
              ) -> tuple[nn.Module, nn.Module]:
        """(the local module, its DDP wrapper); ranks other than 0 start from their own random init, drawn
        from a generator of their own, or with `in_stream` from the current one, as the single-process
        training run draws it (so that the dropout masks after it are the same draws)."""
        self.dropouts = []
        with contextlib.nullcontext() if in_stream else seeded(self.device, 1_000 + self.rank):
            local = self.build_model(spec, dtype).model
        self.load_initial(local, params)
        return local, self.wrap(local)

    def shard(self, array: Any) -> Any:
        start, stop = shard_bounds(len(array), self.world_size)[self.rank]
        return array[start:stop]

    def set_rows(self, n_global: int) -> tuple[int, int]:
        start, stop = shard_bounds(n_global, self.world_size)[self.rank]
        self.rows = (start, stop, n_global)
        return start, stop

    def all_reduce(self, value: torch.Tensor) -> torch.Tensor:
        total = value.detach().clone()
        dist.all_reduce(total)
        return total

    def local_loss(self, name: str, pred: torch.Tensor, target: torch.Tensor, reduction: str,
                   params: Mapping[str, Any]) -> torch.Tensor:
        """The shard's loss with `reduction`; an empty shard's is its (zero) sum, so it still back-propagates."""
        if len(pred) == 0 and reduction == "mean":
            return self.compute_loss(name, pred, target, "sum", params)
        return self.compute_loss(name, pred, target, reduction, params)

    # -- requests ------------------------------------------------------------------------------------------
    def op_forward_backward(self, spec: Any, params: Sequence[np.ndarray], x: np.ndarray, target: np.ndarray,
                            loss: str, reduction: str, loss_params: Mapping[str, Any], training: bool,
                            dropout_seed: int | None) -> dict[str, Any]:
        dtype = x.dtype
        with self.numerics():
            local, model = self.build(spec, torch_dtype(dtype), params)
            model.train(training)
            start, stop = self.set_rows(len(x))
            xt = self.tensor(x[start:stop]).requires_grad_(True)
            seed = 0 if dropout_seed is None else dropout_seed
            with seeded(self.device, self.dropout_seed(seed)):
                output = model(xt)
            yt = self.target_tensor(loss, target[start:stop], output)
            value = self.local_loss(loss, output, yt, reduction, loss_params)
            if reduction == "none":
                share = value.sum()
                reported = value
            else:
                share = self.contribution(value, stop - start, len(x), reduction)
                reported = self.all_reduce(share)
            (share * self.world_size).backward()
            return {
                "output": self.numpy(output, dtype),
                "loss": self.numpy(reported, dtype),
                "param_grads": [self.numpy(self.gradient_of(p), dtype) for p in local.parameters()],
                "input_grad": self.numpy(self.gradient_of(xt) / self.world_size, dtype),
                "masks": [d.masks[-1] for d in self.dropouts] if training and self.dropouts else None,
            }

    def op_loss(self, name: str, pred: np.ndarray, target: np.ndarray, reduction: str,
                params: Mapping[str, Any]) -> dict[str, Any]:
        """The loss of a batch split across ranks (no parameters: only the loss is all-reduced)."""
        with self.numerics():
            start, stop = shard_bounds(len(pred), self.world_size)[self.rank] if np.ndim(pred) else (0, 0)
            local_pred = pred[start:stop] if np.ndim(pred) else pred
            local_target = target[start:stop] if np.ndim(target) else target
            predt = self.tensor(local_pred).requires_grad_(True)
            value = self.local_loss(name, predt, self.target_tensor(name, local_target, predt), reduction, params)
            if reduction == "none":
                value.sum().backward()
                reported = value
            else:
                share = self.contribution(value, stop - start, len(pred), reduction)
                share.backward()
                reported = self.all_reduce(share)
            return {"loss": self.numpy(reported, pred.dtype), "grad": self.numpy(self.gradient_of(predt), pred.dtype)}

    def op_activation(self, name: str, x: np.ndarray, params: Mapping[str, Any],
                      grad_y: np.ndarray | None) -> np.ndarray:
        """An activation (or its vector-Jacobian product) on this rank's rows."""
        if np.ndim(x) == 0:
            local_x, local_g = x, grad_y
        else:
            local_x = self.shard(x)
            local_g = None if grad_y is None else self.shard(grad_y)
        if grad_y is None:
            return self.activation(name, np.asarray(local_x), params)
        return self.activation_grad(name, np.asarray(local_x), np.asarray(local_g), params)

    def op_dropout(self, x: np.ndarray, p: float, training: bool, seed: int) -> np.ndarray:
        """The implementation's dropout on this rank's rows of x (the global batch's noise, sliced)."""
        with self.numerics(), torch.no_grad(), seeded(self.device, self.dropout_seed(seed)):
            start, stop = self.set_rows(len(x))
            module = ShardDropout(self, p).train(training)
            return self.numpy(module(self.tensor(x[start:stop])), x.dtype)

    def op_optimizer_run(self, name: str, hyper: Mapping[str, Any], params: Sequence[np.ndarray],
                         grads_per_step: Sequence[Sequence[np.ndarray]]) -> tuple[list[np.ndarray], dict[str, Any]]:
        """Every rank steps its replica with the same gradients (what DDP's all-reduce hands each of them)."""
        return self.optimizer_run(name, hyper, params, grads_per_step)

    def op_train(self, request: TrainRequest) -> TrainResult:
        """A training run (mlpbench.impls.epochs.run_epochs) on this rank's rows of every batch and of the
        validation set."""
        dtype = np.asarray(request.x).dtype
        with self.numerics(), seeded(self.device, self.dropout_seed(request.dropout_seed)):
            local, model = self.build(request.spec, torch_dtype(dtype), request.params, in_stream=True)
            optimizer = self.make_optimizer(request.optimizer, list(local.parameters()), request.hyper)
            x = self.tensor(request.x)
            y = self.target_tensor(request.loss, request.y, x)

            def step(batch: np.ndarray) -> float:
                """DDP's step on this rank's rows of the batch; the batch's loss (the ranks' shares all-reduced)."""
                start, stop = self.set_rows(len(batch))
                index = self.row_index(batch[start:stop])
                optimizer.zero_grad(set_to_none=True)
                value = self.local_loss(request.loss, model(x[index]), y[index], request.reduction,
                                        request.loss_params)
                share = self.contribution(value, stop - start, len(batch), request.reduction)
                (share * self.world_size).backward()
                optimizer.step()
                return float(self.all_reduce(share))

            run = run_epochs(ModuleSteps(request, self, model, local, step, lambda: self.evaluate(model, request)))
            return run.result([self.numpy(p, dtype) for p in run.weights])

    def evaluate(self, model: nn.Module, request: TrainRequest) -> float:
        """The validation loss (the loop calls it in evaluation mode, without autograd), the validation set split
        across ranks like a batch."""
        if request.x_val is None or request.y_val is None:
            raise RuntimeError("evaluate() on a request without validation data")
        start, stop = self.set_rows(len(request.x_val))
        x = self.tensor(request.x_val[start:stop])
        value = self.local_loss(request.loss, model(x), self.target_tensor(request.loss, request.y_val[start:stop], x),
                                request.reduction, request.loss_params)
        return float(self.all_reduce(self.contribution(value, stop - start, len(request.x_val), request.reduction)))

    def op_bench(self, spec: Any, params: Sequence[np.ndarray], x: np.ndarray, target: np.ndarray, loss: str,
                 optimizer: str, hyper: Mapping[str, Any], steps: int, blocks: int, warmup: int) -> dict[str, Any]:
        """Timed training steps on this rank's shard of a resident batch: blocks of `steps` steps between
        barriers, with the all-reduce (DDP) and without it (DDP's no_sync: local gradients only)."""
        with self.numerics():
            local, model = self.build(spec, torch_dtype(x.dtype), params)
            opt = self.make_optimizer(optimizer, list(local.parameters()), hyper)
            xt = self.tensor(self.shard(x))
            yt = self.target_tensor(loss, self.shard(target), xt)

            def step() -> None:
                opt.zero_grad(set_to_none=True)
                self.compute_loss(loss, model(xt), yt, "mean", {}).backward()
                opt.step()

            def timed(context: Any) -> list[float]:
                times = []
                for block in range(warmup + blocks):
                    self.barrier()
                    begin = time.perf_counter()
                    with context():
                        for _ in range(steps):
                            step()
                    self.synchronize()
                    self.barrier()
                    if block >= warmup:
                        times.append((time.perf_counter() - begin) / steps)
                return times

            with_all_reduce = timed(contextlib.nullcontext)
            without = timed(model.no_sync)
            return {"step_s": with_all_reduce, "local_step_s": without, "rows": len(xt),
                    "threads": torch.get_num_threads()}

    def barrier(self) -> None:
        dist.barrier(device_ids=[torch.device(self.device).index]) if self.device.startswith("cuda") \
            else dist.barrier()

    def synchronize(self) -> None:
        if self.device.startswith("cuda"):
            torch.cuda.synchronize(self.device)


# -- the rank process ---------------------------------------------------------------------------------------
def _die_with_parent(parent_pid: int) -> None:
    """End this rank when the adapter's process ends, however it ends (SIGKILL included): the kernel's parent
    death signal where there is one (Linux), and a thread that watches the parent process id everywhere."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:
        os._exit(70)

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent_pid:
                os._exit(70)

    threading.Thread(target=watch, name="parent watch", daemon=True).start()


def _loopback_interface() -> str | None:
    import socket

    with contextlib.suppress(OSError, AttributeError):
        for _, name in socket.if_nameindex():
            if name in ("lo", "lo0"):
                return name
    return None


def _load_engine(path: str) -> type[RankEngine]:
    import importlib

    module_name, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def rank_main(config: RankConfig, conn: Any) -> None:
    """A rank's life: join the process group over loopback, answer requests, leave when the pipe closes."""
    _die_with_parent(config.parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    interface = _loopback_interface()
    if interface is not None and config.backend == "gloo":
        os.environ["GLOO_SOCKET_IFNAME"] = interface
    torch.set_num_threads(config.threads)
    try:
        store = dist.TCPStore("127.0.0.1", config.store_port, is_master=False,
                              timeout=timedelta(seconds=config.collective_timeout_s))
        if config.device == "cuda":
            torch.cuda.set_device(config.rank)
        dist.init_process_group(config.backend, store=store, rank=config.rank, world_size=config.world_size,
                                timeout=timedelta(seconds=config.collective_timeout_s))
        engine = _load_engine(config.engine)(config)
        dist.barrier()
    except BaseException as error:  # reported to the adapter, which fails the call
        conn.send(("raised", f"rank {config.rank} could not join: {type(error).__name__}: {error}"))
        return
    conn.send(("ok", "ready"))
    serve(engine, conn)
    with contextlib.suppress(Exception):
        dist.destroy_process_group()


def serve(engine: RankEngine, conn: Any) -> None:
    while True:
        try:
            op, kwargs = conn.recv()
        except (EOFError, OSError):
            return
        try:
            message: tuple[str, Any] = ("ok", getattr(engine, f"op_{op}")(**kwargs))
        except Exception as error:
            where = " | ".join(traceback.format_exc(limit=-2).split("\n")[-4:])
            message = ("raised", f"{type(error).__name__}: {error} ({where.strip()})")
        conn.send(message)
