"""The two self-adversarial (twin) terms of TwinFlow (docs/METHOD.md §2, eqs. 2 and 9).

The one network plays three parts: generator ``G(z) = z - F(z, 1, 0)``, the real flow
(``F`` at positive times) and the fake flow of its own samples (``F`` at negative times).

* L_adv: fakes ``x_f = G(z)`` (no grad), ``x_f,t = t z' + (1 - t) x_f``; the network at
  ``(-t, -t)`` regresses ``z' - x_f``: it learns the velocity of its own output distribution.
* L_rectify: for the one-step prediction ``F_g = F(z, 1, 0)`` (with grad), noise
  ``sg(G(z))`` at ``t ~ U(0, 1)`` and take ``dv = F(x, -t, -t) - F(x, t, t)`` (no grad, fake
  minus real).  Minimising ``d(F_g, sg(F_g - dv))`` moves ``G(z)`` by ``+dv``, i.e. along
  ``s_real - s_fake`` (``dv = (t / (1 - t)) (s_real - s_fake)``): distribution matching
  with no discriminator and no frozen teacher.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from twinflow.networks.contract import Conditioning, VelocityNetwork, expand_time
from twinflow.objective.joint import NetInput, joint_call


@torch.no_grad()
def one_step_sample(net: VelocityNetwork, z: Tensor, cond: Conditioning | None) -> Tensor:
    """``x = z - F(z, 1, 0)``: ``(B, *shape)`` noise -> one-step samples."""
    ones = torch.ones(z.shape[0], device=z.device)
    return z - net(z, ones, torch.zeros_like(ones), cond)


@dataclass(frozen=True)
class RectifyTarget:
    """``(B, *shape)`` target ``sg(F_g - clamp(dv))`` for the one-step prediction ``F_g``.

    :meth:`probe` gives the no-grad input (``2 B`` rows: the noised fakes at ``-t``, then at
    ``t``), which the objective may join to another call of the online network;
    :meth:`from_probe` turns its output into the target.
    """

    clamp: float | None = 1.0

    def probe(
        self, z: Tensor, f_gen: Tensor, cond: Conditioning | None, t: Tensor, eps: Tensor
    ) -> NetInput:
        """``x = t eps + (1 - t) sg(z - F_g)`` at times ``(-t, -t)`` and ``(t, t)``."""
        fake = z - f_gen.detach()
        tt = expand_time(t, fake)
        x_t = tt * eps.to(fake.dtype) + (1 - tt) * fake
        times = torch.cat([-t, t])
        both_cond = None if cond is None else Conditioning.cat([cond, cond])
        return NetInput(torch.cat([x_t, x_t]), times, times, both_cond)

    def from_probe(self, f_gen: Tensor, out: Tensor) -> Tensor:
        """``sg(F_g) - clamp(dv)`` with ``dv = F(x, -t, -t) - F(x, t, t)`` from ``out``."""
        f_fake, f_real = out.chunk(2)
        dv = f_fake - f_real
        if self.clamp is not None:
            dv = dv.clamp(-self.clamp, self.clamp)
        return f_gen.detach() - dv

    @torch.no_grad()
    def __call__(
        self,
        net: VelocityNetwork,
        z: Tensor,
        f_gen: Tensor,
        cond: Conditioning | None,
        t: Tensor | None = None,
        eps: Tensor | None = None,
    ) -> Tensor:
        """``t`` ``(B,)`` and ``eps`` ``(B, *shape)`` are the probe's time and noise (drawn
        here when not given; the objective passes its step draws)."""
        t = torch.rand(z.shape[0], device=z.device) if t is None else t
        eps = torch.randn_like(z) if eps is None else eps
        out = joint_call(net, [self.probe(z, f_gen, cond, t, eps)])[0]
        return self.from_probe(f_gen, out)
