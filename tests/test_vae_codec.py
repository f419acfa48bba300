"""VAECodec with tiny random-init VAEs (CPU, no weights downloaded)."""

from __future__ import annotations

import jsonargparse
import numpy as np
import pytest
import torch

from twinflow.codec import Codec, VAECodec
from twinflow.codec.vae import TINY_DCAE_CONFIG, TINY_QWEN_VAE_CONFIG
from twinflow.networks.pretrained import PretrainedPathError

CASES = [("qwen_image", TINY_QWEN_VAE_CONFIG, 16, 8), ("sana", TINY_DCAE_CONFIG, 32, 4)]
SIZE = 16


def _images(n: int = 2) -> torch.Tensor:
    return torch.randint(0, 256, (n, SIZE, SIZE, 3), generator=torch.Generator().manual_seed(0),
                         dtype=torch.uint8)


@pytest.fixture(scope="module", params=CASES, ids=[c[0] for c in CASES])
def codec(request: pytest.FixtureRequest) -> VAECodec:
    family, config, _, _ = request.param
    torch.manual_seed(0)
    return VAECodec(family=family, config=config, height=SIZE, width=SIZE)


def test_lazy_and_protocol() -> None:
    c = VAECodec(family="qwen_image", config=TINY_QWEN_VAE_CONFIG, height=SIZE, width=SIZE)
    assert not c.loaded and isinstance(c, Codec)
    assert c.latent_shape == (16, 2, 2) and c.image_shape == (SIZE, SIZE, 3)
    assert not c.loaded


@pytest.mark.parametrize("family,config,channels,f", CASES)
def test_geometry_without_loading(family, config, channels, f) -> None:
    c = VAECodec(family=family, config=config, height=64, width=32)
    assert c.latent_shape == (channels, 64 // f, 32 // f) and not c.loaded


def test_shapes_and_dtype(codec: VAECodec) -> None:
    z = codec.encode(_images())
    assert codec.loaded
    assert z.shape == (2, *codec.latent_shape) and z.dtype == torch.float32
    out = codec.decode(z)
    assert isinstance(out, np.ndarray) and out.dtype == np.uint8 and out.shape == (2, SIZE, SIZE, 3)


def test_normalisation_matches_pipeline(codec: VAECodec) -> None:
    images = _images()
    vae = codec.vae
    x = images.permute(0, 3, 1, 2).float() / 127.5 - 1
    z = codec.encode(images)
    with torch.no_grad():
        if codec.family == "qwen_image":
            cfg = vae.config
            mean = torch.tensor(cfg.latents_mean).view(1, cfg.z_dim, 1, 1, 1)
            inv_std = 1.0 / torch.tensor(cfg.latents_std).view(1, cfg.z_dim, 1, 1, 1)
            mu = vae.encode(x[:, :, None]).latent_dist.mode()
            expected = ((mu - mean) * inv_std)[:, :, 0]
            raw = z[:, :, None] / inv_std + mean
            pixels = vae.decode(raw, return_dict=False)[0][:, :, 0]
        else:
            expected = vae.encode(x).latent * vae.config.scaling_factor
            pixels = vae.decode(z / vae.config.scaling_factor, return_dict=False)[0]
    torch.testing.assert_close(z, expected, rtol=1e-5, atol=1e-5)
    u8 = ((pixels.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1)
    diff = np.abs(codec.decode(z).astype(int) - u8.numpy().astype(int))
    assert diff.max() <= 1


def test_saved_folder_loads(tmp_path) -> None:
    torch.manual_seed(0)
    src = VAECodec(family="sana", config=TINY_DCAE_CONFIG, height=SIZE, width=SIZE)
    src.vae.save_pretrained(tmp_path / "vae")
    c = VAECodec(pretrained=str(tmp_path), family="sana", height=SIZE, width=SIZE)
    assert c.latent_shape == src.latent_shape and not c.loaded
    torch.testing.assert_close(c.encode(_images()), src.encode(_images()))


def test_missing_folder_one_line(tmp_path) -> None:
    with pytest.raises(PretrainedPathError) as err:
        VAECodec(pretrained=str(tmp_path / "nope"), family="qwen_image")
    assert "\n" not in str(err.value)


def test_bad_size_one_line() -> None:
    with pytest.raises(ValueError, match="divisible by 8") as err:
        VAECodec(family="qwen_image", config=TINY_QWEN_VAE_CONFIG, height=20, width=16)
    assert "\n" not in str(err.value)


def test_jsonargparse_instantiates() -> None:
    parser = jsonargparse.ArgumentParser()
    parser.add_argument("--codec", type=Codec)
    cfg = parser.parse_object({"codec": {
        "class_path": "twinflow.codec.VAECodec",
        "init_args": {"family": "sana", "config": TINY_DCAE_CONFIG, "height": 32, "width": 32},
    }})
    codec = parser.instantiate_classes(cfg).codec
    assert isinstance(codec, VAECodec) and codec.latent_shape == (32, 8, 8) and not codec.loaded
