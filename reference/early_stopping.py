"""Early stopping: stop when the monitored quantity has not improved for `patience` epochs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EarlyStopping:
    """Configuration.

    monitor: "val_loss" or "train_loss".
    mode: "min" (lower is better) or "max".
    patience: epochs without improvement after which training stops.
    min_delta: an epoch improves only if it beats the best by more than this (current < best - min_delta).
    restore_best_weights: at the end, return the parameters of the best epoch instead of the last.
    """

    monitor: str = "val_loss"
    mode: str = "min"
    patience: int = 5
    min_delta: float = 0.0
    restore_best_weights: bool = True

    def __post_init__(self) -> None:
        if self.monitor not in ("val_loss", "train_loss"):
            raise ValueError(f"monitor must be 'val_loss' or 'train_loss', not {self.monitor!r}")
        if self.mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', not {self.mode!r}")
        if self.patience < 0 or self.min_delta < 0:
            raise ValueError("patience and min_delta must be non-negative")


class EarlyStoppingTracker:
    """The state machine, fed one value per epoch.

    After `update(epoch, value)` returns True training stops; `best_epoch` is the epoch whose parameters are
    restored. An epoch improves when value < best - min_delta (mode "min") or value > best + min_delta ("max");
    otherwise the wait counter grows, and training stops once it reaches `patience`.
    """

    def __init__(self, config: EarlyStopping) -> None:
        self.config = config
        self.best_value: float | None = None
        self.best_epoch: int | None = None
        self.wait = 0
        self.stopped_epoch: int | None = None

    def improves(self, value: float) -> bool:
        if self.best_value is None:
            return True
        if self.config.mode == "min":
            return value < self.best_value - self.config.min_delta
        return value > self.best_value + self.config.min_delta

    def update(self, epoch: int, value: float) -> bool:
        """Record the monitored value of `epoch`; return True when training should stop after it."""
        if self.improves(value):
            self.best_value, self.best_epoch, self.wait = float(value), epoch, 0
            return False
        self.wait += 1
        if self.wait >= self.config.patience:
            self.stopped_epoch = epoch
            return True
        return False
