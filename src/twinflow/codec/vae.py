"""``VAECodec``: images <-> a diffusers autoencoder's normalised latent space.

Two families, each with its pipeline's latent normalisation (``x`` are pixels in ``[-1, 1]``,
``x = u8 / 127.5 - 1``; decoded pixels map back as ``u8 = round(clamp((x + 1) * 127.5))``):

* ``qwen_image`` (``AutoencoderKLQwenImage``, as in ``QwenImagePipeline`` and its img2img
  pipeline): the VAE is a video VAE, images get a frame axis ``(N, 3, 1, H, W)``;
  ``mu = vae.encode(x).latent_dist.mode()`` (or ``.sample()``) of shape ``(N, 16, 1, H/8, W/8)``,
  and per channel ``c``: ``z_c = (mu_c - latents_mean_c) / latents_std_c``.  Decoding inverts it,
  ``mu_c = z_c * latents_std_c + latents_mean_c``, then ``vae.decode(mu)[:, :, 0]``.  Our model
  space drops the frame axis: ``(N, 16, H/8, W/8)``.
* ``sana`` (``AutoencoderDC``, as in ``SanaPipeline``): ``z = vae.encode(x).latent *
  scaling_factor`` of shape ``(N, 32, H/32, W/32)``; decoding is ``vae.decode(z /
  scaling_factor)``.

The autoencoder is built (from ``config``) or loaded (from ``pretrained``) lazily, on the first
``encode``/``decode``: training from cached latents never touches its weights.  ``latent_shape``
only needs the config (given, or ``config.json`` read from the local folder).
"""

from __future__ import annotations

import json
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from twinflow.networks.pretrained import component_dir, load_component

Family = Literal["qwen_image", "sana"]

#: Random-init Qwen-Image VAE, 16 latent channels and 8x downsampling like the real one
#: (3 spatial downsamples), with tiny widths (``base_dim=8``) and one res block per stage.
TINY_QWEN_VAE_CONFIG: dict[str, Any] = {
    "base_dim": 8,
    "z_dim": 16,
    "dim_mult": [1, 2, 2, 2],
    "num_res_blocks": 1,
    "attn_scales": [],
    "temperal_downsample": [False, True, True],
}

#: Random-init DC-AE, 32 latent channels like SANA's, but only 3 stages: 4x downsampling
#: (the real DC-AE-f32c32 has 6 stages, 32x).  Plain ResBlocks, no attention.
TINY_DCAE_CONFIG: dict[str, Any] = {
    "latent_channels": 32,
    "encoder_block_types": "ResBlock",
    "decoder_block_types": "ResBlock",
    "encoder_block_out_channels": [8, 16, 32],
    "decoder_block_out_channels": [8, 16, 32],
    "encoder_layers_per_block": [1, 1, 1],
    "decoder_layers_per_block": [1, 1, 1],
    "encoder_qkv_multiscales": [[], [], []],
    "decoder_qkv_multiscales": [[], [], []],
    "scaling_factor": 0.41407,
}


def _vae_class(family: str) -> Any:
    """The diffusers autoencoder class of ``family``."""
    if family == "qwen_image":
        from diffusers import AutoencoderKLQwenImage

        return AutoencoderKLQwenImage
    if family == "sana":
        from diffusers import AutoencoderDC

        return AutoencoderDC
    raise ValueError(f"unknown VAE family {family!r}: use 'qwen_image' or 'sana'")


def _geometry(family: str, config: dict[str, Any]) -> tuple[int, int]:
    """``(latent_channels, spatial_downsampling)`` from a VAE config (class defaults filled)."""
    if family == "qwen_image":
        return int(config.get("z_dim", 16)), 2 ** len(
            config.get("temperal_downsample", [False, True, True])
        )
    blocks = config.get("encoder_block_out_channels", [128, 256, 512, 512, 1024, 1024])
    return int(config.get("latent_channels", 32)), 2 ** (len(blocks) - 1)


class VAECodec:
    """``(N, H, W, 3)`` uint8 <-> ``(N, C, H/f, W/f)`` normalised VAE latents (see module doc).

    Args:
        pretrained: local checkpoint root (e.g. a clone of ``Qwen/Qwen-Image``); never
            downloaded.  ``None`` with ``config``: random init (tests, tiny experiments).
        subfolder: the VAE's folder inside ``pretrained``.
        family: ``"qwen_image"`` (``AutoencoderKLQwenImage``) or ``"sana"`` (``AutoencoderDC``).
        config: constructor kwargs of a random-init VAE (e.g. ``TINY_QWEN_VAE_CONFIG``);
            ignored when ``pretrained`` is given.
        height, width: default image size; must be divisible by the downsampling factor ``f``.
        torch_dtype: the VAE's dtype (``"float32"``, ``"bfloat16"``, ...).
        sample_posterior: Qwen-Image only: encode with ``latent_dist.sample()`` instead of the
            mode (DC-AE is deterministic).
    """

    is_image: bool = True

    def __init__(
        self,
        pretrained: str | None = None,
        subfolder: str = "vae",
        family: Family = "qwen_image",
        config: dict[str, Any] | None = None,
        height: int = 1024,
        width: int = 1024,
        torch_dtype: str = "float32",
        sample_posterior: bool = False,
    ) -> None:
        _vae_class(family)  # validates the family name
        if pretrained is None and config is None:
            raise ValueError("VAECodec needs `pretrained` (a local folder) or a random `config`")
        self.pretrained = pretrained
        self.subfolder = subfolder
        self.family = family
        self.config = dict(config) if config is not None else None
        self.height, self.width = int(height), int(width)
        self.torch_dtype = torch_dtype
        self.sample_posterior = sample_posterior
        if pretrained is not None:
            folder = component_dir(pretrained, subfolder)
            vae_config = json.loads((folder / "config.json").read_text())
        else:
            vae_config = self.config or {}
        self.latent_channels, self.downsample = _geometry(family, vae_config)
        f = self.downsample
        if self.height % f or self.width % f:
            raise ValueError(f"VAECodec: height and width must be divisible by {f}, got "
                             f"{self.height}x{self.width}")
        self._vae: Any = None

    @property
    def latent_shape(self) -> tuple[int, ...]:
        """``(C, H/f, W/f)`` at the default resolution."""
        f = self.downsample
        return (self.latent_channels, self.height // f, self.width // f)

    @property
    def image_shape(self) -> tuple[int, ...]:
        """``(H, W, 3)``."""
        return (self.height, self.width, 3)

    @property
    def loaded(self) -> bool:
        """Whether the autoencoder has been built or loaded yet."""
        return self._vae is not None

    @property
    def vae(self) -> Any:
        """The diffusers autoencoder (eval mode, no grad), built or loaded on first access."""
        if self._vae is None:
            cls = _vae_class(self.family)
            dtype = getattr(torch, self.torch_dtype)
            if self.pretrained is not None:
                vae = load_component(cls, self.pretrained, self.subfolder, torch_dtype=dtype)
            else:
                vae = cls(**(self.config or {}))
                vae = vae if dtype == torch.float32 else vae.to(dtype)
            self._vae = vae.eval().requires_grad_(False)
        return self._vae

    def _vae_on(self, device: torch.device) -> Any:
        vae = self.vae
        if next(vae.parameters()).device != device:
            self._vae = vae = vae.to(device)
        return vae

    def _stats(self, like: Tensor) -> tuple[Tensor, Tensor]:
        """Qwen-Image per-channel ``(mean, std)``, shaped ``(1, C, 1, 1)`` like ``like``."""
        cfg = self.vae.config
        mean = torch.tensor(cfg.latents_mean).view(1, cfg.z_dim, 1, 1)
        std = torch.tensor(cfg.latents_std).view(1, cfg.z_dim, 1, 1)
        return mean.to(like.device, like.dtype), std.to(like.device, like.dtype)

    @torch.no_grad()
    def encode(self, images: Tensor) -> Tensor:
        """``(N, H, W, 3)`` uint8 (tensor or array) -> ``(N, C, H/f, W/f)`` float32 latents."""
        x = torch.as_tensor(images)
        if x.dim() != 4 or x.shape[-1] != 3:
            raise ValueError(f"VAECodec.encode expects (N, H, W, 3) images, got {tuple(x.shape)}")
        f = self.downsample
        if x.shape[1] % f or x.shape[2] % f:
            raise ValueError(f"VAECodec: image size must be divisible by {f}, got "
                             f"{x.shape[1]}x{x.shape[2]}")
        vae = self._vae_on(x.device)
        dtype = next(vae.parameters()).dtype
        pixels = (x.permute(0, 3, 1, 2).float() / 127.5 - 1).to(dtype)  # (N, 3, H, W) in [-1, 1]
        if self.family == "qwen_image":
            dist = vae.encode(pixels[:, :, None]).latent_dist  # frames: (N, 3, 1, H, W)
            mu = (dist.sample() if self.sample_posterior else dist.mode())[:, :, 0].float()
            mean, std = self._stats(mu)
            return (mu - mean) / std
        return vae.encode(pixels).latent.float() * vae.config.scaling_factor

    @torch.no_grad()
    def decode(self, latents: Tensor) -> np.ndarray:
        """``(N, C, h, w)`` normalised latents -> ``(N, h*f, w*f, 3)`` uint8 images."""
        z = latents.detach()
        if z.dim() != 4 or z.shape[1] != self.latent_channels:
            raise ValueError(f"VAECodec.decode expects (N, {self.latent_channels}, h, w) latents, "
                             f"got {tuple(z.shape)}")
        vae = self._vae_on(z.device)
        dtype = next(vae.parameters()).dtype
        z = z.float()
        if self.family == "qwen_image":
            mean, std = self._stats(z)
            raw = (z * std + mean).to(dtype)
            pixels = vae.decode(raw[:, :, None], return_dict=False)[0][:, :, 0]
        else:
            raw = (z / vae.config.scaling_factor).to(dtype)
            pixels = vae.decode(raw, return_dict=False)[0]
        u8 = ((pixels.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        return u8.permute(0, 2, 3, 1).cpu().numpy()

    def __repr__(self) -> str:
        src = self.pretrained or "random-init"
        return (f"VAECodec(family={self.family!r}, source={src!r}, "
                f"latent_shape={self.latent_shape}, loaded={self.loaded})")
