"""One training objective with three settings: flow matching, RCGM and TwinFlow.

``TwinFlowObjective(net, x, cond, null_cond)`` draws noise and times, partitions the batch
(``e2e | mul | any | adv``), runs the network once with grad on all rows and returns every
term separately:

``loss = (sum_{base rows} w_i d(F_i, F_target_i) + sum_{adv rows} d(F_i, z'_i - x_fake_i)) / B
         + rectify_weight * mean_{e2e rows} d(F_g, sg(F_g - dv))``

with ``w_i = tan((1 - (t_i - r_i)) pi / 2.5) + 1`` when ``time_weighting`` is on.
No-grad calls per step: without EMA 3 (fakes + guidance pair, RCGM sub-step 1 + rectify
probe, sub-step 2; the guidance pair is its own call in bf16), with an EMA target 5.
Settings (no code edits): flow matching = ``mul`` share only, ``mul_window = 0``,
``rcgm.order = 0``; RCGM = ``adv = 0``, ``rectify_weight = 0``; TwinFlow = all groups.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor

from twinflow.networks.contract import Conditioning, VelocityNetwork, index_cond
from twinflow.objective.guidance import GuidedVelocity
from twinflow.objective.joint import NetInput, joint_call, use_index
from twinflow.objective.metric import LossMetric
from twinflow.objective.partition import BatchPartition
from twinflow.objective.rcgm import RCGMTarget
from twinflow.objective.step_draws import StepDraws
from twinflow.objective.time_sampler import TimeSampler
from twinflow.objective.twin_terms import RectifyTarget
from twinflow.path import interpolate


@dataclass
class LossTerms:
    """Scalar loss terms of one step; ``loss`` is what is optimised.

    ``base``, ``adv``, ``rectify`` are group means (0 for an empty group), for logging.
    """

    loss: Tensor
    base: Tensor
    adv: Tensor
    rectify: Tensor
    counts: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Tensor]:
        return {
            "loss": self.loss,
            "L_base": self.base,
            "L_adv": self.adv,
            "L_rectify": self.rectify,
        }


def time_weight(t: Tensor, r: Tensor) -> Tensor:
    """``tan((1 - (|t| - |r|)) pi / 2.5) + 1``: 1 for a full jump, about 4.08 for ``r = t``."""
    return torch.tan((1 - (t.abs() - r.abs())) * math.pi / 2.5) + 1


class TwinFlowObjective:
    """L_base + L_adv + L_rectify on one network (docs/METHOD.md §2).

    Args:
        partition: group shares (the paper's lambda is ``adv`` plus ``e2e`` share).
        time_sampler: distribution of ``t`` for the ``mul`` and ``any`` groups, and for
            ``adv`` unless ``adv_time_sampler`` is given.
        adv_time_sampler: distribution of the twin path's ``t'`` (the ``adv`` rows); the
            method states ``U(0, 1)`` (docs/METHOD.md §2), ``None`` takes ``time_sampler``.
        rcgm: the L_base target (``order = 0`` is flow matching).
        guidance: training-time CFG on the target velocity.
        metric: the per-sample distance ``d``.
        rectify: the L_rectify target (clamp of ``dv``).
        rectify_weight: weight of L_rectify (0.5 in the reference configs; 0 turns it off).
        time_weighting: weight base rows by ``time_weight``.
        cond_dropout: probability of replacing a row's condition by the null condition,
            which trains the unconditional model that guidance needs.
        row_select: how guidance and RCGM pick their rows: ``index`` (gather, least
            arithmetic), ``mask`` (all rows, ``torch.where``: fixed shapes, no host sync) or
            ``auto`` (``index`` on the CPU, ``mask`` elsewhere); equal values (``joint.py``).
            ``TwinFlowModule`` sets ``mask`` under ZeRO-3 and FSDP2, where every rank must
            make every network call (a sharded forward is a collective).
    """

    def __init__(
        self,
        partition: BatchPartition | None = None,
        time_sampler: TimeSampler | None = None,
        rcgm: RCGMTarget | None = None,
        guidance: GuidedVelocity | None = None,
        metric: LossMetric | None = None,
        rectify: RectifyTarget | None = None,
        rectify_weight: float = 0.5,
        time_weighting: bool = True,
        cond_dropout: float = 0.1,
        row_select: str = "auto",
        adv_time_sampler: TimeSampler | None = None,
    ) -> None:
        self.partition = partition or BatchPartition()
        self.time_sampler = time_sampler or TimeSampler()
        self.adv_time_sampler = adv_time_sampler
        self.rcgm = rcgm or RCGMTarget()
        self.guidance = guidance or GuidedVelocity()
        self.metric = metric or LossMetric()
        self.rectify = rectify or RectifyTarget()
        if rectify_weight < 0:
            raise ValueError(f"rectify_weight must be >= 0, got {rectify_weight}")
        if not 0 <= cond_dropout < 1:
            raise ValueError(f"cond_dropout must be in [0, 1), got {cond_dropout}")
        self.rectify_weight = rectify_weight
        self.time_weighting = time_weighting
        self.cond_dropout = cond_dropout
        use_index(row_select, torch.device("cpu"))  # validates the name
        self.row_select = row_select

    def drop_conditions(
        self, cond: Conditioning | None, null_cond: Conditioning | None, keep: Tensor | None
    ) -> Conditioning | None:
        """Replace the rows where ``keep`` ``(B,)`` is false by the null condition."""
        if cond is None or null_cond is None or keep is None:
            return cond
        cond, null = Conditioning.align(cond, null_cond.expand_to(len(cond)))
        shape = (-1, *([1] * (cond.embeds.dim() - 1)))
        embeds = torch.where(keep.view(shape), cond.embeds, null.embeds.to(cond.embeds.dtype))
        mask = None
        if cond.mask is not None and null.mask is not None:
            mask = torch.where(keep[:, None], cond.mask, null.mask.to(cond.mask.dtype))
        return Conditioning(embeds, mask)

    def draw(self, x: Tensor, cond_dropout: bool, micro: tuple[int, int]) -> StepDraws:
        """The step's draws for micro-batch ``micro = (index, count)`` of ``x`` ``(B, ...)``."""
        index, count = micro
        if not 0 <= index < count:
            raise ValueError(f"micro-batch index {index} outside 0..{count - 1}")
        batch = x.shape[0]
        draws = StepDraws.draw(
            batch * count, tuple(x.shape[1:]), self.partition, self.time_sampler,
            cond_dropout and self.cond_dropout > 0, self.cond_dropout,
            self.rectify_weight > 0, x.device, x.dtype, self.adv_time_sampler,
        )
        return draws if count == 1 else draws.rows(slice(index * batch, (index + 1) * batch))

    def __call__(
        self,
        net: VelocityNetwork,
        x: Tensor,
        cond: Conditioning | None = None,
        null_cond: Conditioning | None = None,
        target_net: VelocityNetwork | None = None,
        micro: tuple[int, int] = (0, 1),
    ) -> LossTerms:
        """Loss terms for data ``x`` of shape ``(B, *shape)``.

        ``target_net`` is the no-grad network of L_base and guidance (the EMA); the online
        ``net`` under no-grad serves when it is ``None`` and always for the twin terms, which
        must follow the current generator.  ``micro = (m, k)``: ``x`` is micro-batch ``m`` of
        ``k`` accumulated into one optimizer step; the draws cover all ``k B`` rows and the
        loss is scaled so that the mean over the ``k`` micro-batches is the loss of one step
        on their concatenation.
        """
        shared = target_net is None or target_net is net
        target_net = net if shared else target_net
        index = use_index(self.row_select, x.device)
        batch = x.shape[0]
        draws = self.draw(x, cond is not None and null_cond is not None, micro)
        times = draws.times
        t, r = times.t, times.r
        cond = self.drop_conditions(cond, null_cond, draws.keep)
        null_rows = None if null_cond is None else null_cond.expand_to(batch)
        z = draws.z
        x_in, v = interpolate(x, z, t), z - x
        adv, e2e = times.slice("adv"), times.slice("e2e")
        base = slice(0, adv.start)
        n_adv = times.counts["adv"]

        # No-grad call 1 (online net): the adv rows' one-step fakes, joined by the guidance
        # pair of the base rows when the target net is the online net and precisions agree.
        first = []
        if n_adv:
            ones = torch.ones(n_adv, device=x.device)
            first.append(NetInput(z[adv], ones, torch.zeros_like(ones), index_cond(cond, adv)))
        guide = None if not adv.start else self.guidance.plan(
            x_in[base], t[base], index_cond(cond, base), index_cond(null_rows, base), index)
        guide_precision = self.guidance.resolved_precision(x.device.type)
        joined = guide is not None and shared and guide_precision == "fp32" and (
            not torch.is_autocast_enabled(x.device.type))  # else not the fakes' precision
        outs = joint_call(net, first + ([guide.input] if joined else []))
        v_base = v[base]
        if guide is not None:
            out = outs[-1] if joined else joint_call(
                target_net, [guide.input], guide_precision)[0]
            v_base = guide.apply(v_base, out)
        if n_adv:
            # L_adv inputs: the generator's own samples x_f = z - F(z, 1, 0) on the twin path.
            fake = z[adv] - outs[0]
            z_adv = draws.z_adv.to(fake.dtype)
            x_in = torch.cat([x_in[: adv.start], interpolate(fake, z_adv, t[adv])])
            v = torch.cat([v[: adv.start], z_adv - fake])
            t = torch.cat([t[: adv.start], -t[adv]])
            r = torch.cat([r[: adv.start], -r[adv]])

        f_theta = net(x_in, t, r, cond)
        zero = f_theta.new_zeros(())

        # RCGM sub-steps (target net); the rectify probe (online net, needs sg(F(z, 1, 0)) of
        # the e2e rows) joins the first one when the two nets are one.
        probe = probe_out = None
        if times.counts["e2e"] and self.rectify_weight > 0:
            probe = self.rectify.probe(z[e2e], f_theta[e2e], index_cond(cond, e2e),
                                       draws.rect_t, draws.rect_eps)
        plan = None if not adv.start else self.rcgm.plan(
            x_in[base], t[base], r[base], v_base, index_cond(cond, base), index)
        for i in range(plan.order if plan is not None else 0):
            with_probe = i == 0 and probe is not None and shared
            outs = joint_call(target_net, [plan.sub_step(i)] + ([probe] if with_probe else []))
            plan.advance(i, outs[0])
            probe_out = outs[1] if with_probe else probe_out
        if probe is not None and probe_out is None:
            probe_out = joint_call(net, [probe])[0]

        per_row = []
        base_loss = zero
        if adv.start:
            target = v_base if plan is None else plan.target(f_theta[base], v_base)
            rows = self.metric(f_theta[base], target)
            if self.time_weighting:
                rows = rows * time_weight(t[base], r[base])
            per_row.append(rows)
            base_loss = rows.mean()
        adv_loss = zero
        if n_adv:
            rows = self.metric(f_theta[adv], v[adv])
            per_row.append(rows)
            adv_loss = rows.mean()
        loss = torch.cat(per_row).sum() / batch

        rect_loss = zero
        if probe is not None:
            target = self.rectify.from_probe(f_theta[e2e], probe_out)
            rect_loss = self.metric(f_theta[e2e], target).mean()
            # The step's rectify term is a mean over the logical batch's e2e rows: this
            # micro-batch carries k * n_e2e / N_e2e of it (exactly 1 without accumulation).
            share = micro[1] * times.counts["e2e"] / draws.logical_e2e
            loss = loss + self.rectify_weight * rect_loss * share
        return LossTerms(
            loss, base_loss.detach(), adv_loss.detach(), rect_loss.detach(), times.counts
        )


__all__ = ["LossTerms", "TwinFlowObjective", "time_weight"]
