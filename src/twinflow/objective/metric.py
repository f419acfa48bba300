"""Per-sample distance ``d(pred, target)`` used by every loss term (docs/METHOD.md §2).

* ``l2``: ``mse_i = mean_j (pred_ij - target_ij)^2`` per sample ``i``.
* ``barron``: the robust reweighting of the reference code,
  ``d_i = mse_i * sg(w_i) / c`` with ``w_i = (mse_i / c^2 / |a - 2| + 1)^((a - 2) / 2)``.
  For ``a = 1`` and ``mse >> c^2`` this behaves like ``sqrt(mse)``: large residuals (the
  bootstrapped targets early in training) do not dominate the gradient.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from torch import Tensor


@dataclass(frozen=True)
class LossMetric:
    """``(B, *shape), (B, *shape) -> (B,)`` per-sample distance."""

    kind: Literal["l2", "barron"] = "l2"
    a: float = 1.0
    c: float = 1e-3

    def __post_init__(self) -> None:
        if self.kind not in ("l2", "barron"):
            raise ValueError(f"LossMetric.kind={self.kind!r}: use 'l2' or 'barron'")
        if self.kind == "barron" and (self.c <= 0 or self.a == 2):
            raise ValueError(
                f"LossMetric barron needs c > 0 and a != 2 (got a={self.a}, c={self.c})"
            )

    def __call__(self, pred: Tensor, target: Tensor) -> Tensor:
        mse = (pred.float() - target.float()).pow(2).flatten(1).mean(dim=1)
        if self.kind == "l2":
            return mse
        weight = (mse.detach() / self.c**2 / abs(self.a - 2) + 1) ** ((self.a - 2) / 2)
        return mse * weight / self.c
