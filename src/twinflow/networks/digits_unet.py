"""A small conditional U-Net for 28x28 (or 32x32) single-channel digits, built for CPU speed.

Layout: 28x28 -> 14x14 -> 7x7 with residual blocks; the 7x7 bottleneck has one self-attention
layer.  Time ``(t, r)`` and the pooled text embedding are summed into one ``(B, E)`` vector that
modulates every block (scale and shift).  The output layer starts at zero, so a fresh network
predicts zero velocity.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from twinflow.networks.contract import Conditioning
from twinflow.networks.time_embedding import TwoTimeEmbedding


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice with a FiLM from the embedding: ``(B, C_in, H, W) -> (B, C_out, H, W)``."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(8, c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.film = nn.Linear(emb_dim, 2 * c_out)
        self.norm2 = nn.GroupNorm(8, c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.conv1(nn.functional.silu(self.norm1(x)))
        scale, shift = self.film(emb)[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(nn.functional.silu(h))
        return self.skip(x) + h


class SelfAttention(nn.Module):
    """Multi-head self-attention over the ``H * W`` positions of ``(B, C, H, W)``."""

    def __init__(self, channels: int, heads: int = 4) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(8, channels)
        self.attn = nn.MultiheadAttention(channels, heads, batch_first=True)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        seq = self.norm(x).flatten(2).transpose(1, 2)
        out, _ = self.attn(seq, seq, seq, need_weights=False)
        return x + out.transpose(1, 2).reshape(b, c, h, w)


class DigitsUNet(nn.Module):
    """``F(x_t, t, r, cond)`` for ``(B, C, H, W)`` images with ``H, W`` divisible by 4.

    Args:
        in_channels: image channels.
        channels: base width; the three levels use ``(1, 2, 2) * channels``.
        cond_dim: dimension of the pooled text embedding (384 for all-MiniLM-L6-v2), or 0
            for an unconditional model.
        emb_dim: width of the time + condition embedding.
    """

    def __init__(
        self, in_channels: int = 1, channels: int = 32, cond_dim: int = 384, emb_dim: int = 128
    ) -> None:
        super().__init__()
        c1, c2, c3 = channels, 2 * channels, 2 * channels
        self.time = TwoTimeEmbedding(emb_dim)
        self.cond = (
            nn.Sequential(nn.Linear(cond_dim, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
            if cond_dim
            else None
        )
        self.stem = nn.Conv2d(in_channels, c1, 3, padding=1)
        self.down1 = ResBlock(c1, c1, emb_dim)
        self.pool1 = nn.Conv2d(c1, c2, 3, stride=2, padding=1)
        self.down2 = ResBlock(c2, c2, emb_dim)
        self.pool2 = nn.Conv2d(c2, c3, 3, stride=2, padding=1)
        self.mid1 = ResBlock(c3, c3, emb_dim)
        self.attn = SelfAttention(c3)
        self.mid2 = ResBlock(c3, c3, emb_dim)
        self.up2 = nn.ConvTranspose2d(c3, c2, 4, stride=2, padding=1)
        self.dec2 = ResBlock(2 * c2, c2, emb_dim)
        self.up1 = nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1)
        self.dec1 = ResBlock(2 * c1, c1, emb_dim)
        self.out_norm = nn.GroupNorm(8, c1)
        self.out = nn.Conv2d(c1, in_channels, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(
        self, x_t: Tensor, t: Tensor, r: Tensor, cond: Conditioning | None = None
    ) -> Tensor:
        emb = self.time(t, r)
        if self.cond is not None:
            if cond is None:
                raise ValueError("DigitsUNet was built with cond_dim > 0 but got cond=None")
            emb = emb + self.cond(cond.embeds.to(emb.dtype))
        emb = nn.functional.silu(emb)
        h1 = self.down1(self.stem(x_t), emb)
        h2 = self.down2(self.pool1(h1), emb)
        h = self.mid2(self.attn(self.mid1(self.pool2(h2), emb)), emb)
        h = self.dec2(torch.cat([self.up2(h), h2], dim=1), emb)
        h = self.dec1(torch.cat([self.up1(h), h1], dim=1), emb)
        return self.out(nn.functional.silu(self.out_norm(h)))
