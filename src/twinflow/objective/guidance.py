"""Guidance-enhanced target velocity (training-time CFG, docs/METHOD.md §2).

For rows with ``t`` inside ``t_range``:
``v <- v + w * (F_ng(x_t, t, t | c) - F_ng(x_t, t, t | empty))`` with ``w = ratio``.
The sampler then needs no CFG: one NFE really is one forward pass.

Rows whose condition already is the empty prompt (condition dropout) get no change, exactly
(``F(.|c) = F(.|empty)`` there): they are left out (``index`` rows) or masked (``mask`` rows,
see ``joint.py``).  ``precision="bf16"`` runs the guidance forward under bfloat16 autocast:
about 1.7x faster on CPUs and GPUs with bf16 units, and its error (about
``ratio * 2**-8 * |F|``) is far below the per-sample noise of the target ``z - x``.
``precision="auto"`` is bf16 where it pays on the device and fp32 elsewhere (emulated bf16
made the guidance pair several times slower than fp32 on a CPU without bf16 units), see
``twinflow.bf16_units``.

:meth:`GuidedVelocity.plan` returns the network input (the selected rows with their condition,
then with the null condition) so the objective can join it to another no-grad call;
:meth:`GuidancePlan.apply` turns that call's output into the enhanced ``v``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from twinflow.bf16_units import PRECISIONS, resolve_precision
from twinflow.networks.contract import Conditioning, VelocityNetwork
from twinflow.objective.joint import NetInput, Rows, joint_call, use_index


@dataclass
class GuidancePlan:
    """The guidance pair's input ``(2 n, *shape)`` for the selected ``rows`` of ``B``."""

    rows: Rows
    input: NetInput
    ratio: float

    def apply(self, v: Tensor, out: Tensor) -> Tensor:
        """``v`` ``(B, *shape)`` enhanced with the pair's output ``out`` ``(2 n, *shape)``."""
        f_cond, f_null = out.to(v.dtype).chunk(2)
        return self.rows.put(v, self.rows.take(v) + self.ratio * (f_cond - f_null))


@dataclass(frozen=True)
class GuidedVelocity:
    """``(B, *shape)`` enhanced velocity; a no-op when ``ratio == 0``."""

    ratio: float = 0.0
    t_range: tuple[float, float] = (0.0, 1.0)
    precision: str = "fp32"

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(
                f"GuidedVelocity.precision={self.precision!r}: use one of {', '.join(PRECISIONS)}")
        lo, hi = self.t_range
        if not 0 <= lo <= hi <= 1:
            raise ValueError(
                f"GuidedVelocity.t_range must satisfy 0 <= lo <= hi <= 1, got {self.t_range}"
            )

    def resolved_precision(self, device: str) -> str:
        """``"bf16"`` or ``"fp32"`` on ``device`` ("cpu", "cuda"): ``auto`` decided there."""
        return resolve_precision(self.precision, device)

    def plan(
        self,
        x_t: Tensor,
        t: Tensor,
        cond: Conditioning | None,
        null_cond: Conditioning | None,
        index: bool,
    ) -> GuidancePlan | None:
        """The pair's input for ``x_t`` ``(B, *shape)``, ``t`` ``(B,)``; ``None``: no guidance."""
        if self.ratio == 0 or x_t.shape[0] == 0:
            return None
        if cond is None or null_cond is None:
            raise ValueError(
                "guidance ratio > 0 needs conditioned batches with a null (empty-prompt) "
                "condition; set objective.guidance.ratio: 0 for unconditional data"
            )
        inside = (t >= self.t_range[0]) & (t <= self.t_range[1]) & ~self._is_null(cond, null_cond)
        rows = Rows.of(inside, index)
        x, tt = rows.take(x_t), rows.take(t)
        both = Conditioning.cat([rows.take_cond(cond), rows.take_cond(null_cond)])
        pair = NetInput(torch.cat([x, x]), torch.cat([tt, tt]), torch.cat([tt, tt]), both)
        return GuidancePlan(rows, pair, self.ratio)

    @torch.no_grad()
    def __call__(
        self,
        net: VelocityNetwork,
        x_t: Tensor,
        t: Tensor,
        v: Tensor,
        cond: Conditioning | None,
        null_cond: Conditioning | None,
        row_select: str = "auto",
    ) -> Tensor:
        plan = self.plan(x_t, t, cond, null_cond, use_index(row_select, x_t.device))
        if plan is None:
            return v
        precision = self.resolved_precision(x_t.device.type)
        return plan.apply(v, joint_call(net, [plan.input], precision)[0])

    @staticmethod
    def _is_null(cond: Conditioning, null_cond: Conditioning) -> torch.Tensor:
        """``(B,)`` True where a row's condition equals the null condition."""
        cond, null_cond = Conditioning.align(cond, null_cond)
        same = (cond.embeds == null_cond.embeds).flatten(1).all(1)
        if cond.mask is not None and null_cond.mask is not None:
            same &= (cond.mask == null_cond.mask).flatten(1).all(1)
        return same
