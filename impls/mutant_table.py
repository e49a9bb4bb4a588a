"""The mutants as data: which extension point of torch-cpu each one swaps, and for what.

A mutant is torch-cpu (mlpbench.impls.torch_impl.TorchImplementation) with exactly one realistic bug. Each row
of MUTANTS names the extension point the bug replaces (`hook`), the optimizer, activation, loss or initializer
name it applies to (`key`; None: every call), and the replacement in mlpbench.impls.mutants (`swap`).
mlpbench.impls.mutants.Mutant builds the implementation from a row; mlpbench.impls.mutants.HOOKS says what a
swap receives at each hook.

This module imports neither torch nor mlpbench.impls.mutants, so listing the mutants is fast and works without torch.
"""

from __future__ import annotations

from dataclasses import dataclass

HOOK_NAMES = (
    "optimizer",
    "optimizer_kwargs",
    "activation",
    "loss",
    "init",
    "linear",
    "dropout",
    "early_stopping_tracker",
    "restore_best_weights",
    "batch_iterator",
    "forward_backward",
    "clip_gradients",
)
"""The extension points a mutant can swap (the keys of mlpbench.impls.mutants.HOOKS)."""


@dataclass(frozen=True)
class MutantSpec:
    """One mutant: torch-cpu with `swap` in place of what TorchImplementation does at `hook`.

    name: the registry name ("mutant-..."). breaks: the capability area (mlpbench.impls.interface.AREAS) whose checks
    must catch the bug. description: the bug in one line. hook: one of HOOK_NAMES. key: the optimizer,
    activation, loss or initializer name (or names) the swap applies to; None: it applies to every call.
    swap: the name of the replacement class or function in mlpbench.impls.mutants.
    """

    name: str
    breaks: str
    description: str
    hook: str
    key: str | tuple[str, ...] | None
    swap: str

    def __post_init__(self) -> None:
        if self.hook not in HOOK_NAMES:
            raise ValueError(f"mutant {self.name!r}: unknown hook {self.hook!r}; known: {', '.join(HOOK_NAMES)}")

    def applies_to(self, name: str) -> bool:
        """Whether the swap replaces the call for this optimizer/activation/loss/initializer name."""
        if self.key is None:
            return True
        return name == self.key if isinstance(self.key, str) else name in self.key


KAIMING = ("kaiming_uniform", "kaiming_normal")

MUTANTS: tuple[MutantSpec, ...] = (
    MutantSpec(
        "mutant-adam-no-bias-correction",
        "optimizers",
        "Adam without bias correction (bc1 = bc2 = 1): early steps too small",
        hook="optimizer",
        key="adam",
        swap="AdamWithoutBiasCorrection",
    ),
    MutantSpec(
        "mutant-adam-eps-inside-sqrt",
        "optimizers",
        "Adam divides by sqrt(v_hat + eps) while claiming PyTorch's sqrt(v_hat) + eps",
        hook="optimizer",
        key="adam",
        swap="AdamEpsInsideSqrt",
    ),
    MutantSpec(
        "mutant-relu-grad-one-at-zero",
        "activations",
        "ReLU'(0) = 1 (backward uses x >= 0; PyTorch uses x > 0)",
        hook="activation",
        key="relu",
        swap="relu_grad_one_at_zero",
    ),
    MutantSpec(
        "mutant-sigmoid-grad-at-output",
        "activations",
        "sigmoid derivative evaluated at the output, sigma(y)(1 - sigma(y)), instead of at the input",
        hook="activation",
        key="sigmoid",
        swap="sigmoid_grad_at_output",
    ),
    MutantSpec(
        "mutant-softmax-no-max-shift",
        "activations",
        "softmax without subtracting the row maximum: exp overflows to inf/NaN at large inputs",
        hook="activation",
        key="softmax",
        swap="softmax_without_max_shift",
    ),
    MutantSpec(
        "mutant-loss-sum-not-mean",
        "losses",
        "reduction 'mean' computed as a sum (loss and gradient N times too large)",
        hook="loss",
        key=None,
        swap="mean_as_sum",
    ),
    MutantSpec(
        "mutant-bce-no-clamp",
        "losses",
        "binary cross-entropy as -(t log p + (1 - t) log(1 - p)) without PyTorch's clamp at -100",
        hook="loss",
        key="binary_cross_entropy",
        swap="bce_without_clamp",
    ),
    MutantSpec(
        "mutant-he-init-fan-out",
        "init",
        "Kaiming (He) init scaled by fan_out instead of fan_in (the requested mode is ignored)",
        hook="init",
        key=KAIMING,
        swap="kaiming_fan_out",
    ),
    MutantSpec(
        "mutant-bias-grad-mean",
        "model",
        "dense layer backward averages the bias gradient over the batch instead of summing it",
        hook="linear",
        key=None,
        swap="BiasGradMeanLinear",
    ),
    MutantSpec(
        "mutant-float32-accumulation",
        "model",
        "dense layers compute in float32 even when float64 is claimed (results cast back)",
        hook="linear",
        key=None,
        swap="Float32Linear",
    ),
    MutantSpec(
        "mutant-sgd-nesterov-old-buffer",
        "optimizers",
        "Nesterov SGD steps along g + momentum * (buffer before this step's update)",
        hook="optimizer",
        key="sgd",
        swap="SGDNesterovOldBuffer",
    ),
    MutantSpec(
        "mutant-sgd-dampening-ignored",
        "optimizers",
        "SGD momentum buffer accumulates g instead of (1 - dampening) g",
        hook="optimizer",
        key="sgd",
        swap="SGDWithoutDampening",
    ),
    MutantSpec(
        "mutant-sgd-weight-decay-ignored",
        "optimizers",
        "SGD's weight_decay is accepted but never passed on to torch.optim.SGD",
        hook="optimizer_kwargs",
        key="sgd",
        swap="without_weight_decay",
    ),
    MutantSpec(
        "mutant-adagrad-lr-decay-ignored",
        "optimizers",
        "Adagrad's step size ignores lr_decay (clr = lr)",
        hook="optimizer",
        key="adagrad",
        swap="AdagradWithoutLrDecay",
    ),
    MutantSpec(
        "mutant-rmsprop-centered-ignored",
        "optimizers",
        "RMSprop's centered option is accepted but never passed on (no grad_avg subtraction)",
        hook="optimizer_kwargs",
        key="rmsprop",
        swap="without_centered",
    ),
    MutantSpec(
        "mutant-dropout-no-scale",
        "dropout",
        "dropout zeroes units but does not scale kept ones by 1/(1-p)",
        hook="dropout",
        key=None,
        swap="UnscaledDropout",
    ),
    MutantSpec(
        "mutant-dropout-in-eval",
        "dropout",
        "dropout stays active in evaluation mode (F.dropout called with training=True)",
        hook="dropout",
        key=None,
        swap="AlwaysOnDropout",
    ),
    MutantSpec(
        "mutant-early-stopping-late",
        "early_stopping",
        "early stopping waits patience + 1 epochs without improvement (wait > patience)",
        hook="early_stopping_tracker",
        key=None,
        swap="LateEarlyStoppingTracker",
    ),
    MutantSpec(
        "mutant-best-weights-not-restored",
        "early_stopping",
        "restore_best_weights is ignored: the last epoch's parameters are returned",
        hook="restore_best_weights",
        key=None,
        swap="keep_last_weights",
    ),
    MutantSpec(
        "mutant-own-batch-order",
        "training",
        "mini-batches follow torch.randperm with the implementation's own seed, not the suite's order",
        hook="batch_iterator",
        key=None,
        swap="own_batch_order",
    ),
    MutantSpec(
        "mutant-xavier-uniform-gain-ignored",
        "init",
        "hand-written Xavier uniform: bound = sqrt(6 / (fan_in + fan_out)), the gain is dropped",
        hook="init",
        key="xavier_uniform",
        swap="xavier_uniform_without_gain",
    ),
    MutantSpec(
        "mutant-kaiming-gain-ignores-nonlinearity",
        "init",
        "He init with gain sqrt(2 / (1 + a^2)) whatever the nonlinearity (tanh, linear, ...)",
        hook="init",
        key=KAIMING,
        swap="kaiming_leaky_relu_gain",
    ),
    MutantSpec(
        "mutant-truncated-normal-at-3-std",
        "init",
        "truncated normals (truncated_normal, variance_scaling's, lecun_normal) cut at 3 stds instead of 2",
        hook="init",
        key=("truncated_normal", "variance_scaling", "lecun_normal"),
        swap="truncated_at_3_std",
    ),
    MutantSpec(
        "mutant-variance-scaling-no-truncation-correction",
        "init",
        "variance_scaling's truncated normal without the division by .8796 (the draws' std 0.88 of sqrt(scale / n))",
        hook="init",
        key=("variance_scaling", "lecun_normal"),
        swap="truncated_without_correction",
    ),
    MutantSpec(
        "mutant-variance-scaling-fans-swapped",
        "init",
        "variance_scaling's fans read in Keras's (in, out) layout off PyTorch's (out, in) tensor: fan_in <-> fan_out",
        hook="init",
        key=("variance_scaling", "lecun_normal", "lecun_uniform"),
        swap="variance_scaling_fans_swapped",
    ),
    MutantSpec(
        "mutant-lecun-normal-as-uniform",
        "init",
        "lecun_normal drawn from lecun_uniform's distribution: the same mean, std and a narrower support",
        hook="init",
        key="lecun_normal",
        swap="lecun_normal_as_uniform",
    ),
    MutantSpec(
        "mutant-xavier-normal-truncated",
        "init",
        "xavier_normal as JAX's and Keras's glorot_normal: a normal truncated at 2 stds, rescaled to the same std",
        hook="init",
        key="xavier_normal",
        swap="xavier_normal_truncated",
    ),
    MutantSpec(
        "mutant-adadelta-lr-ignored",
        "optimizers",
        "Adadelta as in Zeiler's paper: the lr hyperparameter is accepted but never applied",
        hook="optimizer",
        key="adadelta",
        swap="AdadeltaWithoutLr",
    ),
    MutantSpec(
        "mutant-early-stopping-min-delta-ignored",
        "early_stopping",
        "early stopping counts any decrease as an improvement (min_delta ignored)",
        hook="early_stopping_tracker",
        key=None,
        swap="tracker_without_min_delta",
    ),
    MutantSpec(
        "mutant-model-loss-params-dropped",
        "model",
        "forward_backward does not pass loss_params on (Huber uses delta = 1 inside the model)",
        hook="forward_backward",
        key=None,
        swap="without_loss_params",
    ),
    # -- the blind spots of issue 18: each caught only by the cases added for it
    MutantSpec(
        "mutant-softmax-shift-only-at-1e4",
        "activations",
        "softmax subtracts the row maximum only when max|x| >= 1e4 (exp overflows for logits 89 to 1e4)",
        hook="activation",
        key="softmax",
        swap="softmax_shift_only_at_1e4",
    ),
    MutantSpec(
        "mutant-cross-entropy-shift-only-at-1e4",
        "losses",
        "cross-entropy's log-sum-exp subtracts the row maximum only when max|x| >= 1e4",
        hook="loss",
        key="cross_entropy",
        swap="cross_entropy_shift_only_at_1e4",
    ),
    MutantSpec(
        "mutant-sigmoid-zero-in-tail",
        "activations",
        "sigmoid returns 0 below x = -7.35 (a lookup table or polynomial cut off at 6.4e-4)",
        hook="activation",
        key="sigmoid",
        swap="sigmoid_zero_below_cutoff",
    ),
    MutantSpec(
        "mutant-tanh-via-sigmoid",
        "activations",
        "tanh computed as 2 sigmoid(2x) - 1 (cancels near 0: 19% wrong at 1e-7)",
        hook="activation",
        key="tanh",
        swap="tanh_via_sigmoid",
    ),
    MutantSpec(
        "mutant-softplus-without-log1p",
        "activations",
        "softplus as log(1 + exp(beta x)) / beta below the threshold, without log1p (0 below x = -17 in float32)",
        hook="activation",
        key="softplus",
        swap="softplus_without_log1p",
    ),
    MutantSpec(
        "mutant-early-stopping-min-delta-doubled",
        "early_stopping",
        "early stopping demands an improvement of twice min_delta (the threshold best - min_delta stored as best)",
        hook="early_stopping_tracker",
        key=None,
        swap="tracker_with_min_delta_doubled",
    ),
    MutantSpec(
        "mutant-bce-mean-over-samples",
        "model",
        "binary cross-entropy's mean divides the sum by the batch size, not the number of outputs (multi-label)",
        hook="loss",
        key=("binary_cross_entropy", "binary_cross_entropy_with_logits"),
        swap="bce_mean_over_samples",
    ),
    MutantSpec(
        "mutant-cross-entropy-rotating-sum",
        "determinism",
        "cross-entropy's reduction starts at a row that advances with every call (last bits differ between calls)",
        hook="loss",
        key="cross_entropy",
        swap="cross_entropy_rotating_sum",
    ),
    MutantSpec(
        "mutant-dropout-seed-ignored",
        "determinism",
        "forward_backward seeds dropout from torch's global generator instead of dropout_seed",
        hook="forward_backward",
        key=None,
        swap="dropout_seed_from_global_generator",
    ),
    MutantSpec(
        "mutant-clip-norm-per-parameter",
        "training",
        "clip_grad_norm clips each parameter's gradient by its own norm (Keras's clipnorm), not their global norm",
        hook="clip_gradients",
        key=None,
        swap="clip_norm_per_parameter",
    ),
    MutantSpec(
        "mutant-clip-ignored",
        "training",
        "the training options are accepted and ignored: no gradient is clipped",
        hook="clip_gradients",
        key=None,
        swap="no_clipping",
    ),
)
"""Every mutant, in report order."""


@dataclass(frozen=True)
class DDPMutantSpec:
    """One data-parallel mutant: torch-ddp with one bug, the class `swap` in mlpbench.impls.ddp_mutants."""

    name: str
    breaks: str
    description: str
    swap: str


DDP_MUTANTS: tuple[DDPMutantSpec, ...] = (
    DDPMutantSpec("mutant-ddp-gradients-summed", "model",
                  "DDP communication hook sums the gradients across ranks instead of averaging them",
                  "SummedGradientsMutant"),
    DDPMutantSpec("mutant-ddp-mean-of-means", "training",
                  "every rank's local mean loss weighs the same, so uneven shards give the mean of the means",
                  "MeanOfMeansMutant"),
    DDPMutantSpec("mutant-ddp-no-initial-broadcast", "training",
                  "parameters are not broadcast from rank 0 at the start (DDP init_sync=False)",
                  "NoInitialBroadcastMutant"),
    DDPMutantSpec("mutant-ddp-dropout-seed-per-rank", "dropout",
                  "each rank seeds its dropout with seed + rank and draws masks for its own rows only",
                  "PerRankDropoutSeedMutant"),
)
"""Every data-parallel mutant, in report order."""
