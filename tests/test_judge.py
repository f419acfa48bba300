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
