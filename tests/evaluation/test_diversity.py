"""Diversity: pairing and averaging by hand, feature backends, plain-torch LPIPS."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from evaluation.diversity import (
    FeatureDistance,
    LPIPSDistance,
    generate_samples,
    pairwise_diversity,
)
from evaluation.errors import BenchmarkInputError
from evaluation.lpips import CHANNELS, LPIPS, alexnet_features, load_lpips, lpips_from_features


def mean_pixel(images: np.ndarray) -> np.ndarray:
    return images.reshape(len(images), -1).mean(axis=1, keepdims=True)


def stack(values: list[int]) -> np.ndarray:
    return np.stack([np.full((2, 2, 1), v, np.uint8) for v in values])


def test_pairing_and_averaging_by_hand():
    distance = FeatureDistance(mean_pixel, "mean-pixel distance")
    # Prompt 1, K=4 values 0, 1, 3, 6: pairs |0-1|+|0-3|+|0-6|+|1-3|+|1-6|+|3-6| = 20 -> 20/6.
    # Prompt 2 values 2, 2, 2, 10: 8 * 3 = 24 -> 4.
    result = pairwise_diversity([stack([0, 1, 3, 6]), stack([2, 2, 2, 10])], distance)
    assert result.per_prompt == pytest.approx([20 / 6, 4.0])
    assert result.mean == pytest.approx((20 / 6 + 4.0) / 2)
    assert result.backend == "mean-pixel distance" and result.k == 4
    res = result.to_result()
    assert res.meta["pairs_per_prompt"] == 6 and "mean-pixel distance" in res.per_tag


def test_k2_and_cosine():
    def onehot(x):  # value 0 -> (1, 0), value 1 -> (0, 1), value 2 -> (0, 2)
        v = x.reshape(len(x), -1)[:, 0].astype(float)
        return np.stack([v == 0, v], axis=1).astype(float)

    distance = FeatureDistance(onehot, "f", "cosine")
    assert pairwise_diversity([stack([0, 1])], distance).mean == pytest.approx(1.0)
    # Same direction, different length: cosine distance 0 (l2 would be 1).
    assert pairwise_diversity([stack([1, 2])], distance).mean == pytest.approx(0.0)


def test_bad_inputs():
    distance = FeatureDistance(mean_pixel, "digit-judge feature distance")
    with pytest.raises(BenchmarkInputError, match="K >= 2"):
        pairwise_diversity([stack([1])], distance)
    with pytest.raises(BenchmarkInputError, match="same K"):
        pairwise_diversity([stack([1, 2]), stack([1, 2, 3])], distance)
    with pytest.raises(ValueError, match="LPIPS"):
        FeatureDistance(mean_pixel, "LPIPS (digit judge)")


def test_generate_samples(fake_generator):
    samples = generate_samples(fake_generator, ["a", "b"], nfe=1, k=3, seed=5)
    assert [s.shape[0] for s in samples] == [3, 3]
    assert [c[2] for c in fake_generator.calls] == [5, 6]


def test_lpips_head_formula_by_hand():
    # One layer, 2 channels, 1x2 positions. x: (3,4)->(.6,.8), (1,0); y: (0,5)->(0,1), (0,2)->(0,1).
    fx = torch.tensor([[[[3.0, 1.0]], [[4.0, 0.0]]]], dtype=torch.float64)
    fy = torch.tensor([[[[0.0, 0.0]], [[5.0, 2.0]]]], dtype=torch.float64)
    w = torch.tensor([1.0, 2.0], dtype=torch.float64)
    # pos0: 1*.36 + 2*.04 = .44; pos1: 1*1 + 2*1 = 3; spatial mean 1.72.
    assert lpips_from_features([fx], [fy], [w]).item() == pytest.approx(1.72)


@pytest.fixture
def lpips_files(tmp_path):
    torch.manual_seed(0)
    features = alexnet_features()
    alexnet = {f"features.{k}": v for k, v in features.state_dict().items()}
    alexnet["classifier.1.weight"] = torch.zeros(2, 2)  # extra keys are ignored
    lin = {f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1) for i, c in enumerate(CHANNELS)}
    torch.save(alexnet, tmp_path / "alexnet.pth")
    torch.save(lin, tmp_path / "alex.pth")
    return tmp_path / "alexnet.pth", tmp_path / "alex.pth", features, lin


def test_lpips_network_matches_reference(lpips_files):
    alex_path, lin_path, features, lin = lpips_files
    model = load_lpips(alex_path, lin_path)
    torch.manual_seed(1)
    x, y = torch.rand(2, 3, 64, 64) * 2 - 1, torch.rand(2, 3, 64, 64) * 2 - 1
    # Independent reference: functional ops over the saved parameters.
    shift = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
    scale = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)

    def taps(img):
        p = dict(features.state_dict())
        h = (img - shift) / scale
        h = F.relu(F.conv2d(h, p["0.weight"], p["0.bias"], stride=4, padding=2))
        t1 = h
        h = F.relu(F.conv2d(F.max_pool2d(h, 3, 2), p["3.weight"], p["3.bias"], padding=2))
        t2 = h
        h = F.relu(F.conv2d(F.max_pool2d(h, 3, 2), p["6.weight"], p["6.bias"], padding=1))
        t3 = h
        h = F.relu(F.conv2d(h, p["8.weight"], p["8.bias"], padding=1))
        t4 = h
        return [t1, t2, t3, t4, F.relu(F.conv2d(h, p["10.weight"], p["10.bias"], padding=1))]

    expected = torch.zeros(2)
    for a, b, i in zip(taps(x), taps(y), range(5), strict=True):
        na = a / (a.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        nb = b / (b.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        expected += F.conv2d((na - nb) ** 2, lin[f"lin{i}.model.1.weight"]).mean(dim=(1, 2, 3))
    got = model(x, y)
    assert torch.allclose(got, expected, rtol=1e-4, atol=1e-6)
    assert torch.allclose(model(x, x), torch.zeros(2))
    assert torch.allclose(model(x, y), model(y, x))


def test_lpips_distance_backend(lpips_files):
    alex_path, lin_path, *_ = lpips_files
    backend = LPIPSDistance(alex_path, lin_path, batch_size=2)
    rng = np.random.default_rng(0)
    samples = [rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8) for _ in range(2)]
    result = pairwise_diversity(samples, backend)
    assert result.backend == "lpips-alex-v0.1" and len(result.per_prompt) == 2
    assert all(v > 0 for v in result.per_prompt)
    grey = rng.integers(0, 256, (2, 32, 32, 1), dtype=np.uint8)
    assert pairwise_diversity([grey], backend).mean == pytest.approx(
        pairwise_diversity([np.repeat(grey, 3, axis=-1)], backend).mean)
    with pytest.raises(BenchmarkInputError, match="one"):
        pairwise_diversity([samples[0], samples[1][:, :16]], backend)
    same = pairwise_diversity([np.repeat(samples[0][:1], 3, axis=0)], backend)
    assert same.mean == pytest.approx(0.0, abs=1e-7)


def test_lpips_bad_weights(tmp_path, lpips_files):
    alex_path, lin_path, *_ = lpips_files
    with pytest.raises(BenchmarkInputError, match="not found"):
        load_lpips(tmp_path / "none.pth", lin_path)
    torch.save({"lin0.model.1.weight": torch.zeros(1, 3, 1, 1)}, tmp_path / "bad.pth")
    with pytest.raises(BenchmarkInputError, match="lin0"):
        load_lpips(alex_path, tmp_path / "bad.pth")
    with pytest.raises(BenchmarkInputError, match="torchvision AlexNet"):
        load_lpips(tmp_path / "bad.pth", lin_path)
    assert isinstance(LPIPS(), torch.nn.Module)
