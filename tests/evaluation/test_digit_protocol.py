"""One prompt/seed protocol: the demo's summary, the DigitQuality callback and `make eval
BENCH=digits` draw the same images and report the same numbers for one model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import build_tiny_module

from evaluation.images import load_grey


@pytest.fixture(scope="module")
def tiny_export(tmp_path_factory) -> object:
    """A random-init tiny digits U-Net, exported (what the demo and `make eval` load)."""
    from twinflow.export import export_module

    return export_module(build_tiny_module(), tmp_path_factory.mktemp("proto") / "export")


def test_demo_callback_and_eval_give_the_same_images_and_numbers(
        tmp_path, tiny_export, digit_judge, capsys):
    from evaluation.run import main as eval_main
    from twinflow.callbacks.digit_quality import DigitQuality
    from twinflow.export import load_module
    from twinflow.report import evaluate_run

    per_digit, seed = 12, 31  # 120 samples: two chunks (seeds 31 and 32)
    summary = evaluate_run(tiny_export, tiny_export, tmp_path / "demo", per_digit,
                           multi_nfes=(2,), nfes=(1,), seed=seed, judge=digit_judge)
    with np.load(tmp_path / "demo" / "samples_nfe1.npz") as data:
        demo_images, demo_labels = data["images"], data["labels"]
    demo = summary["rows"]["1 NFE"]

    callback = DigitQuality(nfes=[1], per_digit=per_digit, seed=seed)
    callback._judge = digit_judge
    curve = callback.score(load_module(tiny_export))["nfe1"].as_dict()

    out = tmp_path / "eval"
    code = eval_main(["--model", str(tiny_export), "--bench", "digits", "--nfe", "1",
                      "--per-digit", str(per_digit), "--seed", str(seed), "--out", str(out),
                      "--no-progress", "--no-mlflow"])
    assert code == 0, capsys.readouterr().err
    result = json.loads((out / "results.json").read_text())["results"]["digits"]["1"]
    items = result["per_item"]
    eval_images = np.stack([load_grey(Path(item["file"])) for item in items])
    assert [item["label"] for item in items] == demo_labels.tolist()
    np.testing.assert_array_equal(eval_images, demo_images)  # the same images, same order

    metrics = result["meta"]["metrics"]
    for key in ("accuracy", "fd", "diversity", "accuracy_judge2", "fd_judge2", "fd_pixel",
                "precision", "recall"):
        assert demo[key] == curve[key] == metrics[key], key
    assert demo["n"] == curve["n"] == len(items) == 10 * per_digit

    # A prefix is the first n per digit: 2 per digit are the first 20 images.
    callback.per_digit = 2
    small = callback.score(load_module(tiny_export))["nfe1"]
    assert small.n == 20
    assert small == digit_judge.score(demo_images[:20], demo_labels[:20])
