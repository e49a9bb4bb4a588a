"""Rank engines that misbehave on rank 1 (a crash, a hang, an exception), for the rank pool's failure tests.

Importable by the spawned ranks because pytest puts this folder on sys.path, which spawn hands to children.
"""

from __future__ import annotations

import os
import time
from typing import Any

from mlpbench.impls.ddp_rank import RankEngine


class CrashOnRank1(RankEngine):
    def op_forward_backward(self, **kwargs: Any) -> Any:
        if self.rank == 1:
            os._exit(3)
        return super().op_forward_backward(**kwargs)


class HangOnRank1(RankEngine):
    def op_forward_backward(self, **kwargs: Any) -> Any:
        if self.rank == 1:
            while True:
                time.sleep(1)
        return super().op_forward_backward(**kwargs)


class RaiseOnRank1(RankEngine):
    def op_forward_backward(self, **kwargs: Any) -> Any:
        if self.rank == 1:
            raise ArithmeticError("rank 1 refuses")
        return super().op_forward_backward(**kwargs)
