"""Row selection without host syncs, and several no-grad network inputs in one call.

The objective's no-grad passes (the adv rows' one-step fakes, the guidance pair, RCGM's
sub-steps, the rectify probe) each act on some rows of the batch.  Two ways to pick the rows
``mask`` ``(B,)`` of a group give the same values:

* ``index`` (``Rows.idx`` set): gather the rows with ``mask.nonzero()``, compute only those,
  scatter back with ``index_copy``.  Least arithmetic, but the row count is data-dependent:
  on an accelerator ``nonzero`` waits for the device (a host sync) and every shape changes.
* ``mask`` (``Rows.idx = None``): compute every row of the group and keep the selected ones
  with ``torch.where(mask, new, old)``.  Fixed shapes and no sync, at the price of the
  unselected rows' arithmetic.

``auto`` takes ``index`` on the CPU (a sync costs nothing there, arithmetic dominates) and
``mask`` on accelerators (launches and syncs dominate).

:func:`joint_call` runs several inputs ``(x_i, t_i, r_i, cond_i)`` that share a network as one
forward on their concatenation and splits the output: ``F([x_1; x_2]) = [F(x_1); F(x_2)]``
row by row, so the values equal separate calls up to round-off.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import Tensor

from twinflow.networks.contract import Conditioning, VelocityNetwork, cat_cond

ROW_SELECT = ("auto", "index", "mask")


def use_index(row_select: str, device: torch.device) -> bool:
    """Whether rows are gathered by index (``True``) or masked (``False``) on ``device``."""
    if row_select not in ROW_SELECT:
        raise ValueError(f"row_select={row_select!r}: use one of {ROW_SELECT}")
    return row_select == "index" or (row_select == "auto" and device.type == "cpu")


@dataclass
class Rows:
    """Selected rows ``mask`` ``(B,)`` of a group; ``idx`` their indices, or ``None`` (masked)."""

    mask: Tensor
    idx: Tensor | None

    @classmethod
    def of(cls, mask: Tensor, index: bool) -> Rows:
        return cls(mask, mask.nonzero(as_tuple=True)[0] if index else None)

    def take(self, x: Tensor) -> Tensor:
        """``(B, ...) -> (n, ...)``: the selected rows (all ``B`` rows when masked)."""
        return x if self.idx is None else x[self.idx]

    def take_cond(self, cond: Conditioning | None) -> Conditioning | None:
        return cond if cond is None or self.idx is None else cond.index(self.idx)

    def put(self, base: Tensor, values: Tensor) -> Tensor:
        """``base`` ``(B, ...)`` with the selected rows replaced by ``values`` (from ``take``)."""
        if self.idx is None:
            keep = self.mask.reshape(-1, *([1] * (base.dim() - 1)))
            return torch.where(keep, values.to(base.dtype), base)
        return base.index_copy(0, self.idx, values.to(base.dtype))


@dataclass
class NetInput:
    """One network input: ``x`` ``(n, *shape)``, times ``t``, ``r`` ``(n,)``, ``cond``."""

    x: Tensor
    t: Tensor
    r: Tensor
    cond: Conditioning | None

    def __len__(self) -> int:
        return self.x.shape[0]


@torch.no_grad()
def joint_call(
    net: VelocityNetwork, inputs: list[NetInput], precision: str | None = None
) -> list[Tensor]:
    """``F`` on the concatenated ``inputs`` in one forward; one ``(n_i, *shape)`` output each.

    ``precision``: ``None`` keeps the caller's autocast state (as a plain ``net(...)`` call);
    ``"bf16"`` runs under bfloat16 autocast, ``"fp32"`` with autocast off; both return the
    first input's dtype.
    No call is made when every input is empty.
    """
    if not inputs:
        return []
    sizes = [len(i) for i in inputs]
    if sum(sizes) == 0:
        return [i.x.new_zeros(i.x.shape) for i in inputs]
    one = len(inputs) == 1
    x = inputs[0].x if one else torch.cat([i.x for i in inputs])
    t = inputs[0].t if one else torch.cat([i.t for i in inputs])
    r = inputs[0].r if one else torch.cat([i.r for i in inputs])
    cond = inputs[0].cond if one else cat_cond([i.cond for i in inputs])
    region = contextlib.nullcontext() if precision is None else torch.autocast(
        x.device.type, torch.bfloat16, enabled=precision == "bf16")
    with region:
        out = net(x, t, r, cond)
    if precision is not None:
        out = out.to(inputs[0].x.dtype)
    return [out] if one else list(out.split(sizes))


__all__ = ["ROW_SELECT", "NetInput", "Rows", "joint_call", "use_index"]
