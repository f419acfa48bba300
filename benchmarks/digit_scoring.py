"""Digit-judge scores of a trained ``TwinFlowModule`` for the benchmarks (one protocol).

Samples follow the scorer's one prompt and seed protocol (``twinflow.judge.protocol``), so a
benchmark number equals what ``make eval BENCH=digits`` or the demo give for the same model,
NFE, seed and count.  ``nfe="multi"`` is the multi-step ``mul`` sampler at ``MULTI_NFE``.
"""

from __future__ import annotations

import numpy as np

SCORE_SEED = 4321  # the sampling noise: the same for every method and training seed
MULTI_NFE = 32
_JUDGE = None


def judge():
    """The digit judge, built once per process (trained once into the cache on first use)."""
    global _JUDGE
    if _JUDGE is None:
        from twinflow.judge.metrics import DigitJudge

        _JUDGE = DigitJudge()
    return _JUDGE


def sample(module, per_digit: int, nfe: int | str, seed: int = SCORE_SEED,
           style: str | None = None):
    """``(10 * per_digit, 28, 28, 1)`` uint8 images and their ``(10 * per_digit,)`` labels.

    ``nfe="multi"`` is the ``mul`` sampler at ``MULTI_NFE``; else ``style`` (None: the
    preset for ``nfe``)."""
    n, style = (MULTI_NFE, "mul") if nfe == "multi" else (int(nfe), style)
    try:
        from twinflow.judge.protocol import sample_digits
    except ImportError:  # a tree before the one protocol: one generate call, same prompts
        from twinflow.callbacks.digit_quality import digit_prompts

        prompts, labels = digit_prompts(per_digit)
        return module.generate(prompts, nfe=n, seed=seed, style=style), labels
    images, _, labels = sample_digits(module, per_digit, n, seed, style)
    return images, labels


def score(module, nfes: list, per_digit: int, grid_per_digit: int = 4,
          seed: int = SCORE_SEED) -> tuple[dict, dict]:
    """``({nfe: {metric: value}}, {nfe: grid})``: every numeric metric of
    ``DigitJudge.score(...).as_dict()`` per NFE (samples drawn with ``seed``), and the first
    ``grid_per_digit`` images of each digit, digit by digit (``(10 * grid_per_digit, 28, 28,
    1)`` as nested lists)."""
    scores, grids = {}, {}
    for nfe in nfes:
        images, labels = sample(module, per_digit, nfe, seed)
        raw = judge().score(images, labels).as_dict()
        scores[str(nfe)] = {k: float(v) for k, v in raw.items() if isinstance(v, (int, float))}
        order = np.concatenate([np.flatnonzero(labels == d)[:grid_per_digit]
                                for d in range(10)])
        grids[str(nfe)] = images[order].tolist()
    return scores, grids
