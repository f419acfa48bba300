"""The embedded digit judge: accuracy, Fréchet distance and diversity for generated digits."""

from twinflow.judge.classifier import DigitClassifier, load_or_train_classifier
from twinflow.judge.metrics import DigitJudge, DigitScores, frechet_distance, mean_pairwise_distance

__all__ = [
    "DigitClassifier",
    "DigitJudge",
    "DigitScores",
    "frechet_distance",
    "load_or_train_classifier",
    "mean_pairwise_distance",
]
