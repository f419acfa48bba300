"""A small conditional U-Net for single-channel digits, built for CPU speed.

Time ``(t, r)`` and the pooled text embedding are summed into one ``(B, E)`` vector that
modulates every block (scale and shift).  The output layer starts at zero, so a fresh network
predicts zero velocity.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from twinflow.networks.contract import Conditioning
from twinflow.networks.time_embedding import TwoTimeEmbedding


class ResBlock(nn.Module):
    """Norm-SiLU-conv twice with a FiLM from the embedding.

    ``(B, C_in, H, W) -> (B, C_out, H, W)``.
    """

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


class ShortSequenceAttention(nn.MultiheadAttention):
    """``nn.MultiheadAttention`` (batch first, self-attention) computed as written:
    ``softmax(Q K^T / sqrt(d)) V`` per head, ``(B, N, C) -> (B, N, C)``.

    At the bottleneck's 49 positions this trains about 5x faster on CPU than the fused kernels
    of ``scaled_dot_product_attention``, whose backward is tuned for long sequences. Same
    parameters and state-dict keys as the parent; the projections run inside this module's
    own forward (and ``out_proj``'s), where DeepSpeed ZeRO-3 gathers them.
    """

    def __init__(self, channels: int, heads: int) -> None:
        if channels % heads:
            raise ValueError(f"attention: {channels} channels do not split into {heads} heads")
        super().__init__(channels, heads, batch_first=True)

    def forward(self, seq: Tensor) -> Tensor:  # type: ignore[override]
        qkv = nn.functional.linear(seq, self.in_proj_weight, self.in_proj_bias)
        # (B, N, 3C) -> three (B, heads, N, C / heads)
        q, k, v = qkv.unflatten(-1, (3, self.num_heads, -1)).permute(2, 0, 3, 1, 4)
        weights = (q @ k.transpose(-1, -2) * q.shape[-1] ** -0.5).softmax(dim=-1)
        out = (weights @ v).transpose(1, 2).flatten(2)  # autocast casts both for the product
        return self.out_proj(out)


class SelfAttention(nn.Module):
    """Multi-head self-attention over the ``H * W`` positions: ``(B, C, H, W) -> same``."""

    def __init__(self, channels: int, heads: int = 4) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(8, channels)
        self.attn = ShortSequenceAttention(channels, heads)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        out = self.attn(self.norm(x).flatten(2).transpose(1, 2))  # (B, H * W, C)
        return x + out.transpose(1, 2).reshape(b, c, h, w)


class DigitsUNet(nn.Module):
    """``F(x_t, t, r, cond)`` for ``(B, C, H, W)`` images.

    The input is first folded into ``patch x patch`` pixel blocks (``pixel_unshuffle``), which
    cuts the cost of the full-resolution layers by ``patch^2`` for a small loss of detail;
    then one residual block per level, stride-2 downsampling between levels, one
    self-attention layer at the bottleneck, and the mirror path up with skip connections.
    ``H / patch`` must be divisible by ``2^(len(widths) - 1)``.

    Args:
        in_channels: image channels.
        widths: channels per level, e.g. ``(64, 128)`` (14x14 and 7x7 for 28x28 with patch 2).
        patch: pixel-block size of the input folding (1 = none).
        cond_dim: dimension of the pooled text embedding (384 for all-MiniLM-L6-v2), or 0
            for an unconditional model.
        emb_dim: width of the time + condition embedding.
        channels_last: run the activations in channels-last layout (the weights keep
            theirs, so checkpoints are the same either way). oneDNN's fp32 convolutions
            then made a forward + backward 1.3-1.4x faster on a 2-core Intel Xeon without
            bf16 units; on an AMD EPYC (bf16) and another Xeon it moved the step by under
            5% either way (docs/results.md). Values equal the default layout's to round-off.
    """

    def __init__(
        self,
        in_channels: int = 1,
        widths: tuple[int, ...] = (64, 128),
        patch: int = 2,
        cond_dim: int = 384,
        emb_dim: int = 128,
        channels_last: bool = True,
    ) -> None:
        super().__init__()
        if not widths or patch < 1:
            raise ValueError(
                f"DigitsUNet needs at least one level and patch >= 1, got {widths}, {patch}"
            )
        self.patch, self.channels_last = patch, channels_last
        folded = in_channels * patch * patch
        self.time = TwoTimeEmbedding(emb_dim)
        self.cond = (
            nn.Sequential(nn.Linear(cond_dim, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
            if cond_dim
            else None
        )
        self.stem = nn.Conv2d(folded, widths[0], 3, padding=1)
        self.down = nn.ModuleList(ResBlock(w, w, emb_dim) for w in widths[:-1])
        self.pool = nn.ModuleList(
            nn.Conv2d(a, b, 3, stride=2, padding=1) for a, b in zip(widths[:-1], widths[1:])
        )
        self.mid1 = ResBlock(widths[-1], widths[-1], emb_dim)
        self.attn = SelfAttention(widths[-1])
        self.mid2 = ResBlock(widths[-1], widths[-1], emb_dim)
        self.up = nn.ModuleList(
            nn.ConvTranspose2d(b, a, 4, stride=2, padding=1)
            for a, b in zip(widths[:-1], widths[1:])
        )
        self.dec = nn.ModuleList(ResBlock(2 * w, w, emb_dim) for w in widths[:-1])
        self.out_norm = nn.GroupNorm(8, widths[0])
        self.out = nn.Conv2d(widths[0], folded, 3, padding=1)
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
        x = nn.functional.pixel_unshuffle(x_t, self.patch) if self.patch > 1 else x_t
        # Every later activation inherits the stem's layout. (A one-channel input is both
        # layouts at once, and a convolution then keeps the default: hence the second call.)
        layout = torch.channels_last if self.channels_last else torch.contiguous_format
        h = self.stem(x.contiguous(memory_format=layout)).contiguous(memory_format=layout)
        skips = []
        for block, pool in zip(self.down, self.pool):
            h = block(h, emb)
            skips.append(h)
            h = pool(h)
        h = self.mid2(self.attn(self.mid1(h, emb)), emb)
        for up, block in zip(reversed(self.up), reversed(self.dec)):
            h = block(torch.cat([up(h), skips.pop()], dim=1), emb)
        h = self.out(nn.functional.silu(self.out_norm(h)))
        out = nn.functional.pixel_shuffle(h, self.patch) if self.patch > 1 else h
        return out.contiguous()  # the objective's arithmetic in the usual layout
