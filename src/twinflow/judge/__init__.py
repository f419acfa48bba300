"""The embedded digit scorer: two judges, pixel FD and precision/recall for generated digits.

``DigitJudge().score(images, labels)`` is the one scorer; ``protocol`` is the one way to
choose prompts and seeds for it.
"""

from twinflow.judge.classifier import DigitClassifier, load_or_train_classifier
from twinflow.judge.distances import frechet_distance, mean_pairwise_distance
from twinflow.judge.manifold import precision_recall
from twinflow.judge.metrics import METRICS, DigitJudge, DigitScores
from twinflow.judge.pixel_fd import PixelFD
from twinflow.judge.protocol import digit_prompts, sample_digits
from twinflow.judge.second_judge import SecondJudgeNet, load_or_train_second_judge

__all__ = [
    "METRICS",
    "DigitClassifier",
    "DigitJudge",
    "DigitScores",
    "PixelFD",
    "SecondJudgeNet",
    "digit_prompts",
    "frechet_distance",
    "load_or_train_classifier",
    "load_or_train_second_judge",
    "mean_pairwise_distance",
    "precision_recall",
    "sample_digits",
]
