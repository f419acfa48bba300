"""The embedded digits benchmark: prompts, resumable generation, judge scores and direction."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest
import torch
from conftest import FakeGenerator, build_tiny_module

from evaluation.benchmarks import DigitsBenchmark, DiversityBenchmark, PromptSubset
from evaluation.digits import (
    FEATURE_DISTANCE_NAME,
    digit_feature_distance,
    generate_digits,
    load_digit_prompts,
    score_digits,
)
from evaluation.errors import BenchmarkInputError
from evaluation.module_generator import ModuleGenerator


class RealDigits:
    """An oracle `ImageGenerator`: held-out real digits of the prompted label (RGB if asked)."""

    def __init__(self, rgb: bool = False) -> None:
        from twinflow.data.digits import load_mnist5k

        data = load_mnist5k("heldout")
        self.by_label = {d: data.images[data.labels == d] for d in range(10)}
        self.label_of = {p.prompt: p.label for p in load_digit_prompts(6)}
        self.rgb = rgb

    def generate(self, prompts: Sequence[str], nfe: int, seed: int) -> np.ndarray:
        rows = []
        for row, prompt in enumerate(prompts):
            pool = self.by_label[self.label_of[prompt]]
            rows.append(pool[(seed * 7 + row) % len(pool)])
        images = np.stack(rows)[..., None]
        return np.repeat(images, 3, axis=-1) if self.rgb else images


def test_prompts_interleaved_and_same_set_as_digit_prompts():
    from twinflow.callbacks.digit_quality import digit_prompts

    prompts = load_digit_prompts(3)
    assert [p.label for p in prompts[:10]] == list(range(10))
    assert [p.index for p in prompts] == list(range(30))
    texts, labels = digit_prompts(3)
    pairs = zip(texts, labels.tolist(), strict=True)
    assert sorted((p.prompt, p.label) for p in prompts) == sorted(pairs)
    with pytest.raises(BenchmarkInputError, match="per_digit"):
        load_digit_prompts(0)


def test_generation_layout_and_resume(tmp_path):
    gen = FakeGenerator(size=28, channels=1)
    prompts = load_digit_prompts(2)
    report = generate_digits(gen, prompts, tmp_path, nfe=1, batch_size=8, progress=False)
    assert report.jobs_run == 3 and report.images_generated == 20
    assert [c[2] for c in gen.calls] == [0, 1, 2]  # chunk j uses seed + j
    first = tmp_path / "3" / "00003.png"
    before = first.read_bytes()
    first.unlink()
    again = generate_digits(gen, prompts, tmp_path, nfe=1, batch_size=8, progress=False)
    assert (again.jobs_run, again.jobs_skipped) == (1, 2)
    assert first.read_bytes() == before  # same chunk seed -> the same image


def test_scores_in_range_and_noise_worse_than_real(tmp_path, digit_judge):
    prompts = load_digit_prompts(4)
    generate_digits(RealDigits(rgb=True), prompts, tmp_path / "real", 1, progress=False)
    generate_digits(FakeGenerator(28, 1), prompts, tmp_path / "noise", 1, progress=False)
    real = score_digits(tmp_path / "real", prompts, digit_judge)
    noise = score_digits(tmp_path / "noise", prompts, digit_judge)
    for result in (real, noise):
        assert 0.0 <= result.overall <= 1.0
        assert sorted(result.per_tag) == [f"digit_{d}" for d in range(10)]
        assert all(0.0 <= v <= 1.0 for v in result.per_tag.values())
        metrics = result.meta["metrics"]
        assert math.isfinite(metrics["fd"]) and metrics["fd"] >= 0 and metrics["diversity"] > 0
        assert len(result.per_item) == 40 and result.meta["judge"] == "digit-judge"
    assert real.overall > 0.9 and noise.overall < 0.3
    assert real.meta["metrics"]["fd"] * 5 < noise.meta["metrics"]["fd"]


def test_missing_images_and_wrong_size(tmp_path, digit_judge):
    prompts = load_digit_prompts(1)
    with pytest.raises(BenchmarkInputError, match="generate_digits"):
        score_digits(tmp_path, prompts, digit_judge)
    bench = DigitsBenchmark(per_digit=1, judge=digit_judge)
    with pytest.raises(BenchmarkInputError, match="28x28"):
        bench.check_images((32, 32, 3))


def test_feature_distance_fallback(digit_judge):
    distance = digit_feature_distance(digit_judge)
    assert distance.name == FEATURE_DISTANCE_NAME == "digit-judge feature distance"
    oracle = RealDigits()
    a = oracle.generate(["a handwritten three"] * 3, 1, 0)
    d = distance.distances(a, a[::-1])
    assert d[1] == pytest.approx(0.0) and d[0] > 0  # a[1] is compared with itself
    rgb = distance.distances(np.repeat(a, 3, -1), np.repeat(a[::-1], 3, -1))
    np.testing.assert_allclose(rgb, d, rtol=1e-6)
    with pytest.raises(BenchmarkInputError, match="28x28"):
        distance.distances(np.zeros((1, 8, 8, 1), np.uint8), np.zeros((1, 8, 8, 1), np.uint8))


def test_diversity_benchmark_offline(tmp_path, digit_judge):
    bench = DiversityBenchmark(k=3, digit_judge=digit_judge)
    result = bench.run(RealDigits(), tmp_path, nfe=1, subset=PromptSubset.of(limit=4),
                       progress=False)
    assert result.meta["backend"] == "digit-judge feature distance"
    assert list(result.per_tag) == ["digit-judge feature distance"]
    assert len(result.per_item) == 4 and result.overall > 0
    collapsed = DiversityBenchmark(k=3, digit_judge=digit_judge)

    class Constant(RealDigits):
        def generate(self, prompts, nfe, seed):
            return super().generate(prompts[:1], nfe, 0).repeat(len(prompts), axis=0)

    same = collapsed.run(Constant(), tmp_path / "c", 1, PromptSubset.of(limit=4), progress=False)
    assert same.overall == pytest.approx(0.0, abs=1e-6)
    assert result.overall > 1.0


def test_untrained_module_scores_at_chance(tmp_path, digit_judge):
    bench = DigitsBenchmark(per_digit=3, judge=digit_judge)
    result = bench.run(ModuleGenerator(build_tiny_module()), tmp_path, nfe=2, progress=False)
    assert result.meta["nfe"] == 2 and result.meta["images_generated"] == 30
    assert result.overall <= 0.3 and result.meta["metrics"]["fd"] > 500


def train_briefly(module, steps: int, batch: int = 64, lr: float = 3e-3, seed: int = 0):
    """Plain-torch flow matching on the MNIST-5k train split (digit-major prompt template 0)."""
    from twinflow.data.digits import digit_prompt, load_mnist5k
    from twinflow.data.digits_datamodule import to_model_space
    from twinflow.networks.contract import Conditioning

    data = load_mnist5k("train")
    x, y = to_model_space(data.images), torch.as_tensor(data.labels)
    table = module.conditioner.encode([digit_prompt(d) for d in range(10)]).embeds
    null = module.conditioner.null()
    opt = torch.optim.AdamW(module.network.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    module.network.train()
    for _ in range(steps):
        idx = torch.randint(len(y), (batch,), generator=g)
        terms = module.objective(module.network, x[idx], Conditioning(table[y[idx]]), null)
        opt.zero_grad()
        terms.loss.backward()
        opt.step()
    return module.eval()


@pytest.mark.slow
def test_trained_model_beats_untrained(tmp_path, digit_judge):
    """400 steps of batch 64 (~2 min on 2 idle cores, ~8 min on busy ones): accuracy up, FD down."""
    bench = DigitsBenchmark(per_digit=10, judge=digit_judge)
    untrained = bench.run(ModuleGenerator(build_tiny_module()), tmp_path / "u", 4, progress=False)
    trained_module = train_briefly(build_tiny_module(), steps=400)
    trained = bench.run(ModuleGenerator(trained_module), tmp_path / "t", 4, progress=False)
    scores = {"trained": (trained.overall, trained.meta["metrics"]["fd"]),
              "untrained": (untrained.overall, untrained.meta["metrics"]["fd"])}
    assert trained.overall > untrained.overall + 0.08, scores
    assert trained.meta["metrics"]["fd"] < 0.5 * untrained.meta["metrics"]["fd"], scores


def test_short_run_beats_untrained(tmp_path, digit_judge):
    """The fast version for `make test`: 400 steps of batch 32 already beat the untrained model."""
    bench = DigitsBenchmark(per_digit=10, judge=digit_judge)
    untrained = bench.run(ModuleGenerator(build_tiny_module()), tmp_path / "u", 4, progress=False)
    trained_module = train_briefly(build_tiny_module(), steps=400, batch=32)
    trained = bench.run(ModuleGenerator(trained_module), tmp_path / "t", 4, progress=False)
    scores = {"trained": (trained.overall, trained.meta["metrics"]["fd"]),
              "untrained": (untrained.overall, untrained.meta["metrics"]["fd"])}
    for result in (trained, untrained):
        assert 0 <= result.overall <= 1 and result.meta["metrics"]["fd"] >= 0
    assert trained.overall > untrained.overall + 0.05, scores  # measured 0.22 vs 0.10
    assert trained.meta["metrics"]["fd"] < 0.5 * untrained.meta["metrics"]["fd"], scores
