"""Score digits-benchmark images with the embedded scorer `twinflow.judge.DigitJudge`.

    accuracy  = share of images the tuned judge classifies as the prompted digit (the overall
                score)
    digit_<d> = accuracy over the images of digit d (per_tag)
    meta["metrics"] = every metric of `DigitJudge.score` (accuracy, fd, diversity,
                accuracy_judge2, fd_judge2, fd_pixel, precision, recall), exactly the numbers
                the demo's summary and the `DigitQuality` curves give for the same images;
                a metric undefined for a tiny set (diversity needs 2 images of a digit,
                recall 6 images) is left out
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from evaluation.digits.generate import image_path
from evaluation.digits.prompts import DigitPrompt
from evaluation.errors import BenchmarkInputError
from evaluation.images import load_grey, to_grey
from evaluation.result import BenchmarkResult, group_mean

JUDGE_NAME = "digit-judge"


def digit_result(
    images: np.ndarray,
    prompts: Sequence[DigitPrompt],
    judge: Any,
    meta: dict[str, Any] | None = None,
    files: Sequence[str] | None = None,
) -> BenchmarkResult:
    """Score `(N, 28, 28, 1|3)` uint8 `images` (row i drawn for `prompts[i]`) with a DigitJudge."""
    if len(images) != len(prompts) or len(prompts) < 2:
        raise BenchmarkInputError(
            f"{len(images)} images for {len(prompts)} prompts; the digits benchmark needs one "
            "image per prompt and at least 2 prompts"
        )
    grey = to_grey(np.asarray(images))
    if grey.shape[1:] != (28, 28, 1):
        raise BenchmarkInputError(
            f"digit images have shape {grey.shape[1:]}, the digit judge needs 28x28; "
            "score a model trained on the digits default"
        )
    labels = np.array([p.label for p in prompts])
    scores = judge.score(grey, labels).as_dict()
    metrics = {k: float(v) for k, v in scores.items() if k != "n" and math.isfinite(v)}
    predicted = judge.predict(grey)
    correct = predicted == labels
    digits = sorted(int(d) for d in np.unique(labels) if (labels == d).sum() >= 2)
    pairs = zip((f"digit_{p.label}" for p in prompts), correct.astype(float), strict=True)
    per_tag = dict(sorted(group_mean(pairs).items()))
    per_item = [
        {"index": p.index, "prompt": p.prompt, "label": p.label, "predicted": int(pred),
         "correct": bool(ok)}
        for p, pred, ok in zip(prompts, predicted, correct, strict=True)
    ]
    for item, path in zip(per_item, files or [], strict=False):
        item["file"] = path
    info = dict(meta or {}, judge=JUDGE_NAME, metrics=metrics, images=len(prompts),
                diversity_digits=digits, fd_reference="mnist5k heldout")
    return BenchmarkResult("digits", metrics["accuracy"], per_tag, per_item, info)


def score_digits(
    outdir: str | os.PathLike[str],
    prompts: Sequence[DigitPrompt],
    judge: Any,
) -> BenchmarkResult:
    """Read `<outdir>/<label>/<index>.png` for every prompt (all must exist) and score them."""
    root = Path(outdir)
    paths = [image_path(root, p) for p in prompts]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise BenchmarkInputError(
            f"{len(missing)} of {len(paths)} digit images missing (e.g. {missing[0]}); "
            "run generate_digits with the same prompts first"
        )
    if not paths:
        raise BenchmarkInputError("no digit prompts to score; pass a non-empty prompt list")
    images = np.stack([load_grey(p) for p in paths])
    return digit_result(images, prompts, judge, {"outdir": str(root)}, [str(p) for p in paths])
