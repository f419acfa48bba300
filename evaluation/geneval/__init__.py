"""GenEval (djghosh13/geneval): object-focused compositional evaluation, 553 prompts, 6 tags.

(a) generate: `generate_geneval(generator, load_geneval_prompts(), outdir, nfe)`
(b) score:    `score_geneval(outdir, Mask2FormerDetector(path), ClipColorClassifier(path))`
"""

from evaluation.geneval.generate import generate_geneval
from evaluation.geneval.hf_color import ClipColorClassifier
from evaluation.geneval.hf_detector import Mask2FormerDetector
from evaluation.geneval.judges import ColorClassifier, ObjectDetector, masked_crop
from evaluation.geneval.prompts import GenEvalPrompt, Requirement, load_geneval_prompts
from evaluation.geneval.rules import Detection, evaluate, keep_detections, relative_position
from evaluation.geneval.score import score_geneval, summarize

__all__ = [
    "ClipColorClassifier",
    "ColorClassifier",
    "Detection",
    "GenEvalPrompt",
    "Mask2FormerDetector",
    "ObjectDetector",
    "Requirement",
    "evaluate",
    "generate_geneval",
    "keep_detections",
    "load_geneval_prompts",
    "masked_crop",
    "relative_position",
    "score_geneval",
    "summarize",
]
