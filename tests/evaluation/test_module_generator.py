"""`ModuleGenerator`: a TwinFlow module, export folder or .ckpt as an `ImageGenerator`."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import build_tiny_module

from evaluation.errors import BenchmarkInputError
from evaluation.images import to_grey
from evaluation.module_generator import ModuleGenerator

PROMPTS = ["a handwritten seven", "the digit 2 written in thick strokes", "a handwritten zero"]


def test_export_folder_and_ckpt_give_the_same_images(tmp_path, untrained_export):
    from twinflow.export import load_module

    module = load_module(untrained_export)
    with torch.no_grad():  # make the output depend on the weights, not only on the noise
        for p in module.network.parameters():
            p.add_(0.01 * torch.randn(p.shape, generator=torch.Generator().manual_seed(1)))
    ckpt = tmp_path / "m.ckpt"
    torch.save({"state_dict": module.state_dict(),
                "twinflow": {"model_config": module.model_config}}, ckpt)
    from_ckpt = ModuleGenerator.from_path(ckpt)
    images = from_ckpt.generate(PROMPTS, nfe=2, seed=3)
    assert images.dtype == np.uint8 and images.shape == (3, 28, 28, 1)
    assert from_ckpt.image_shape == (28, 28, 1)
    np.testing.assert_array_equal(images, ModuleGenerator(module).generate(PROMPTS, 2, 3))
    assert not np.array_equal(images, from_ckpt.generate(PROMPTS, nfe=2, seed=4))


def test_channel_modes():
    module = build_tiny_module()
    native = ModuleGenerator(module).generate(PROMPTS, 1, 0)
    rgb_gen = ModuleGenerator(module, channels="rgb")
    rgb = rgb_gen.generate(PROMPTS, 1, 0)
    assert rgb.shape == (3, 28, 28, 3) and rgb_gen.image_shape == (28, 28, 3)
    assert all(np.array_equal(rgb[..., c : c + 1], native) for c in range(3))
    grey = ModuleGenerator(module, channels="grey").generate(PROMPTS, 1, 0)
    np.testing.assert_array_equal(grey, native)
    np.testing.assert_array_equal(to_grey(rgb), native)
    with pytest.raises(BenchmarkInputError, match="channels"):
        ModuleGenerator(module, channels="bgr")


def test_unusable_models_are_refused(tmp_path):
    module = build_tiny_module()
    module.conditioner = None
    with pytest.raises(BenchmarkInputError, match="no text conditioner"):
        ModuleGenerator(module)
    from twinflow.codec import PointCodec

    module.codec = PointCodec(dim=2)
    with pytest.raises(BenchmarkInputError, match="does not decode images"):
        ModuleGenerator(module)
    with pytest.raises(BenchmarkInputError, match="not found"):
        ModuleGenerator.from_path(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BenchmarkInputError, match="cannot load model .*export folder"):
        ModuleGenerator.from_path(tmp_path / "empty")
