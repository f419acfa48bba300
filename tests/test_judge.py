"""The digit judge trains from any context (a first use can come from a validation hook)."""

import torch

from twinflow.data.digits import load_mnist5k
from twinflow.judge.classifier import images_to_input, train_classifier


def test_judge_trains_inside_inference_mode_and_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    with torch.inference_mode():  # what Lightning's validation loop runs under
        model = train_classifier(epochs=1)
    assert torch.equal(torch.rand(3), expected)
    held = load_mnist5k("heldout")
    with torch.no_grad():
        pred = model(images_to_input(held.images[::5])).argmax(1)
    accuracy = (pred == torch.as_tensor(held.labels[::5])).float().mean().item()
    assert accuracy > 0.8


def test_judge_with_given_reference_scores_those_digits_as_identical():
    from twinflow.data.digits import DigitImages
    from twinflow.judge.metrics import DigitJudge

    held = load_mnist5k("heldout")
    real = DigitImages(held.images[::2], held.labels[::2])
    scores = DigitJudge(real=real).score(real.images, real.labels)
    assert abs(scores.fd) < 1e-3 and abs(scores.diversity - 1) < 1e-9


# --- the one scorer: second judge, pixel FD, precision/recall -------------------------------

import numpy as np  # noqa: E402
import pytest  # noqa: E402


def test_precision_recall_of_a_set_against_itself_is_one_and_of_far_clusters_zero():
    from twinflow.judge.manifold import knn_radii, precision_recall

    rng = np.random.default_rng(0)
    a = rng.normal(size=(200, 8))
    assert precision_recall(a, a) == (1.0, 1.0)
    assert precision_recall(a, a + 100.0) == (0.0, 0.0)
    # Half the fakes on the data, half far away: precision 1/2; recall stays 1.
    fake = np.concatenate([a[:100], a[:100] + 100.0])
    precision, recall = precision_recall(a, fake)
    assert precision == 0.5 and recall < 1.0
    # radii: on a line 0, 1, 2, ..., the 2nd neighbour of an inner point is 1 away.
    line = np.arange(10, dtype=float)[:, None]
    np.testing.assert_allclose(knn_radii(line, 2)[1:-1], 1.0)
    assert knn_radii(line, 2)[0] == 2.0
    with pytest.raises(ValueError, match="more than 5"):
        knn_radii(a[:5], 5)


def test_pixel_fd_of_heldout_digits_is_zero_and_of_noise_large():
    from twinflow.judge.pixel_fd import PixelFD

    train, held = load_mnist5k("train"), load_mnist5k("heldout")
    pixel = PixelFD.fit(train, held)
    assert pixel.basis.shape == (784, 64)
    assert abs(pixel(held.images)) < 1e-6
    assert abs(pixel(held.images[..., None]) - pixel(held.images)) < 1e-9  # (N, 28, 28, 1)
    noise = np.random.default_rng(0).integers(0, 256, (1000, 28, 28), dtype=np.uint8)
    real = pixel(train.images[::4])
    assert 0.5 < real < 3.0  # other real digits: close, not identical
    assert pixel(noise) > 20 * real
    with pytest.raises(ValueError, match="28, 28"):
        pixel(np.zeros((3, 32, 32), np.uint8))


@pytest.fixture(scope="module")
def judge():
    from twinflow.judge.metrics import DigitJudge

    return DigitJudge()


def test_second_judge_is_accurate_on_heldout_digits_it_never_saw(judge):
    from twinflow.judge.second_judge import PER_DIGIT, second_split

    held = load_mnist5k("heldout")
    scores = judge.score(held.images, held.labels)
    assert scores.accuracy_judge2 >= 0.95 and scores.accuracy >= 0.95
    split = second_split()
    assert len(split) == 10 * PER_DIGIT and np.bincount(split.labels).tolist() == [PER_DIGIT] * 10
    train = load_mnist5k("train")
    seen = {row.tobytes() for row in split.images}
    assert seen <= {row.tobytes() for row in train.images}  # a split of the training digits
    assert not seen & {row.tobytes() for row in held.images}
    assert judge.real_features2.shape == (1000, 64) and judge.real_features.shape == (1000, 128)


def test_real_digits_score_like_real_data_and_noise_does_not(judge):
    from twinflow.report import real_row

    held = load_mnist5k("heldout")
    same = judge.score(held.images, held.labels)
    assert abs(same.fd) < 1e-3 and abs(same.fd_judge2) < 1e-3 and abs(same.fd_pixel) < 1e-6
    assert same.precision == 1.0 and same.recall == 1.0 and abs(same.diversity - 1) < 1e-9
    # 1,000 training digits (100 per digit): the floor a generator can reach.
    train = real_row(judge, 100)
    # Measured: accuracy 0.990 / 0.993, FD 7.7, judge-2 FD 13.0, pixel FD 1.45, P/R 0.95/0.93.
    assert train["accuracy"] >= 0.98 and train["accuracy_judge2"] >= 0.98
    assert 4 < train["fd"] < 12 and 8 < train["fd_judge2"] < 20 and 1.0 < train["fd_pixel"] < 2.0
    assert train["precision"] > 0.9 and train["recall"] > 0.9
    noise = np.random.default_rng(0).integers(0, 256, (1000, 28, 28), dtype=np.uint8)
    bad = judge.score(noise, held.labels)
    assert bad.fd > 20 * train["fd"] and bad.fd_judge2 > 20 * train["fd_judge2"]
    assert bad.fd_pixel > 20 * train["fd_pixel"] and bad.precision < 0.05 and bad.recall < 0.05


def test_pack_and_unpack_give_the_same_numbers(judge):
    from twinflow.judge.metrics import DigitJudge

    train = load_mnist5k("train")
    images, labels = train.images[::20], train.labels[::20]
    again = DigitJudge.unpack(judge.pack())
    assert again.score(images, labels) == judge.score(images, labels)


def test_digit_prompts_interleaved_prefixes_and_chunk_seeds():
    from twinflow.judge.protocol import CHUNK, chunk_seeds, digit_prompts, grid_order

    prompts, labels = digit_prompts(12)
    assert labels[:10].tolist() == list(range(10)) and len(prompts) == 120
    small, small_labels = digit_prompts(3)
    assert prompts[:30] == small and labels[:30].tolist() == small_labels.tolist()
    major, major_labels = digit_prompts(12, digit_major=True)
    assert major_labels.tolist() == sorted(labels.tolist())
    assert sorted(zip(major, major_labels.tolist())) == sorted(zip(prompts, labels.tolist()))
    assert chunk_seeds(250, 7) == [(0, CHUNK, 7), (CHUNK, 2 * CHUNK, 8), (2 * CHUNK, 250, 9)]
    order = grid_order(labels, 4)
    assert labels[order].tolist() == [d for d in range(10) for _ in range(4)]
    with pytest.raises(ValueError, match="per_digit"):
        digit_prompts(0)


def test_a_cached_judge_loads_without_drawing_from_the_global_rng(tmp_path):
    """A fit's scoring callback loads the judges in its setup, before the network's init:
    whether they were cached must not change the fit (it did, through build()'s init)."""
    from twinflow.judge.classifier import cached_model

    def build():
        return torch.nn.Linear(4, 3)

    trained = cached_model("tiny", build, build, tmp_path)  # first use: "trains", saves
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    loaded = cached_model("tiny", build, lambda: 1 / 0, tmp_path)  # cached: loads
    assert torch.equal(torch.rand(3), expected)
    assert torch.equal(loaded.weight, trained.weight)
