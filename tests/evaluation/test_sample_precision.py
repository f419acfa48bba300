"""`model.sample_precision`: generate in fp32, bf16 autocast, or the device's bf16 decision."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import build_tiny_module

PROMPTS = ["a handwritten seven", "the digit 2 written in thick strokes", "a handwritten zero"]


def _module():
    module = build_tiny_module()
    with torch.no_grad():  # the untrained output layer is zero: give the weights a say
        for p in module.network.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(1)))
    return module


def _images(module, precision: str) -> np.ndarray:
    module.sample_precision = precision
    return module.generate(PROMPTS * 4, nfe=4, seed=3)


def test_bf16_sampling_is_close_to_fp32_and_auto_follows_the_decision(monkeypatch):
    module = _module()
    fp32, bf16 = _images(module, "fp32"), _images(module, "bf16")
    diff = np.abs(fp32.astype(int) - bf16.astype(int))
    assert diff.max() > 0  # autocast is really on
    assert diff.mean() < 2.0  # bf16 round-off, not another image (uint8 levels)
    monkeypatch.setenv("TWINFLOW_BF16", "0")
    np.testing.assert_array_equal(_images(module, "auto"), fp32)
    monkeypatch.setenv("TWINFLOW_BF16", "1")
    np.testing.assert_array_equal(_images(module, "auto"), bf16)


def test_a_bad_sample_precision_is_one_clear_error():
    from conftest import tiny_digits_config

    from twinflow.export import build_module

    config = tiny_digits_config()
    config["sample_precision"] = "fp16"
    with pytest.raises(ValueError, match="model.sample_precision must be one of fp32, bf16, auto"):
        build_module(config)
