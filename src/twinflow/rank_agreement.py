"""Decisions every rank of a distributed run takes together (skip a step, stop).

A rank that decided alone would leave the others waiting in the next collective (the
gradient all-reduce, a ZeRO-3 gather); one flag per rank, all-reduced with MAX, makes the
decision the same everywhere.
"""

from __future__ import annotations

import torch


def any_rank(bad: bool, device: torch.device | str = "cpu") -> bool:
    """``bad`` on any rank; ``bad`` itself outside a process group.

    A collective: every rank of the group must call it at the same point."""
    if not torch.distributed.is_available() or not torch.distributed.is_initialized():
        return bad
    flag = torch.tensor([float(bad)], device=device)
    torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
    return bool(flag.item() > 0)


__all__ = ["any_rank"]
