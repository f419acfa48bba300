"""The embedded digits benchmark: the digits-default prompts judged by `twinflow.judge.DigitJudge`.

(a) generate: `generate_digits(generator, load_digit_prompts(per_digit), outdir, nfe)`
(b) score:    `score_digits(outdir, prompts, DigitJudge())` -> accuracy (overall), per-digit
              accuracy (per_tag) and every metric of `DigitJudge.score` (meta["metrics"])

Prompts and chunk seeds follow `twinflow.judge.protocol`, like the demo and `DigitQuality`.

Runs fully offline: the judge trains once on the bundled MNIST-5k and is cached.
"""

from evaluation.digits.distance import NAME as FEATURE_DISTANCE_NAME
from evaluation.digits.distance import digit_feature_distance
from evaluation.digits.generate import generate_digits, image_path
from evaluation.digits.prompts import DigitPrompt, load_digit_prompts
from evaluation.digits.score import digit_result, score_digits

__all__ = [
    "FEATURE_DISTANCE_NAME",
    "DigitPrompt",
    "digit_feature_distance",
    "digit_result",
    "generate_digits",
    "image_path",
    "load_digit_prompts",
    "score_digits",
]
