"""GenEval as a `Benchmark`: Mask2Former detector + CLIP colour classifier from local folders."""

from __future__ import annotations

from pathlib import Path

from evaluation.benchmarks.base import Benchmark, require_dir, require_file
from evaluation.errors import BenchmarkInputError
from evaluation.generation import GenerationReport
from evaluation.generator import ImageGenerator
from evaluation.geneval import (
    ClipColorClassifier,
    ColorClassifier,
    GenEvalPrompt,
    Mask2FormerDetector,
    ObjectDetector,
    generate_geneval,
    load_geneval_prompts,
    score_geneval,
)
from evaluation.geneval.generate import sample_paths
from evaluation.geneval.prompts import load_object_names
from evaluation.geneval.score import summarize
from evaluation.result import BenchmarkResult


class GenEvalBenchmark(Benchmark):
    """553 prompts x `n_samples` images, scored by object detection and colour rules.

    Args:
        detector_path: local Mask2Former folder (CLI `--detector-path`), unless `detector`.
        clip_path: local CLIP folder (CLI `--clip-path`), unless `color_classifier`.
        prompts_path: `evaluation_metadata.jsonl` or a benchmark root (default: the shared one).
        object_names_path: `object_names.txt`, when the detector spells COCO names differently.
        n_samples: images per prompt (GenEval uses 4).
        detector, color_classifier: ready judge objects (skip the paths).
        device: torch device of the judges.
    """

    name = "geneval"

    def __init__(
        self,
        detector_path: str | None = None,
        clip_path: str | None = None,
        prompts_path: str | None = None,
        object_names_path: str | None = None,
        n_samples: int = 4,
        detector: ObjectDetector | None = None,
        color_classifier: ColorClassifier | None = None,
        device: str = "cpu",
    ) -> None:
        self.detector_path, self.clip_path = detector_path, clip_path
        self.prompts_path, self.object_names_path = prompts_path, object_names_path
        self.n_samples, self.device = n_samples, device
        self.detector, self.color_classifier = detector, color_classifier
        self._prompts: list[GenEvalPrompt] | None = None

    def validate(self) -> None:
        if isinstance(self.n_samples, bool) or int(self.n_samples) < 1:
            raise BenchmarkInputError(f"geneval n_samples={self.n_samples!r}; use >= 1")
        if self.detector is None:
            require_dir(self.detector_path, "GenEval detector (Mask2Former)", "--detector-path")
        if self.color_classifier is None:
            require_dir(self.clip_path, "GenEval colour classifier (CLIP)", "--clip-path")
        if self.object_names_path is not None:
            require_file(self.object_names_path, "GenEval object_names.txt", "object_names_path")
        if self._prompts is None:
            self._prompts = load_geneval_prompts(self.prompts_path)

    def keys(self) -> list[str]:
        self.validate()
        return [str(p.index) for p in self._prompts]

    def load_judges(self) -> None:
        if self.detector is None:
            names = None
            if self.object_names_path is not None:
                names = load_object_names(self.object_names_path)
            self.detector = Mask2FormerDetector(self.detector_path, names, device=self.device)
        if self.color_classifier is None:
            self.color_classifier = ClipColorClassifier(self.clip_path, device=self.device)

    def generate(
        self, generator: ImageGenerator, outdir: Path, nfe: int, positions: list[int],
        seed: int, progress: bool,
    ) -> GenerationReport:
        return generate_geneval(generator, self._chosen(positions), outdir, nfe, seed,
                                self.n_samples, progress)

    def score(self, outdir: Path, positions: list[int], progress: bool) -> BenchmarkResult:
        self.load_judges()
        full = score_geneval(outdir, self.detector, self.color_classifier, progress=progress)
        # The folder may hold prompts of an earlier, larger subset: keep the chosen ones only.
        wanted = {p.index for p in self._chosen(positions)}
        records = [r for r in full.per_item if r["index"] in wanted]
        meta = {k: full.meta[k] for k in ("detector", "color_classifier", "max_objects", "outdir")}
        return summarize(records, meta)

    def sample_groups(
        self, outdir: Path, positions: list[int], per_group: int
    ) -> dict[str, list[Path]]:
        groups: dict[str, list[Path]] = {}
        for p in self._chosen(positions):
            paths = groups.setdefault(p.tag, [])
            first = sample_paths(outdir, p.index, self.n_samples)[0]
            if len(paths) < per_group and first.is_file():
                paths.append(first)
        return groups

