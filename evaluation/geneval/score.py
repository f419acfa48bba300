"""Score a GenEval image folder with an `ObjectDetector` and a `ColorClassifier`."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from evaluation.errors import BenchmarkInputError
from evaluation.geneval.judges import ColorClassifier, ObjectDetector, masked_crop
from evaluation.geneval.prompts import GenEvalPrompt, parse_row
from evaluation.geneval.rules import MAX_OBJECTS, Detection, evaluate, keep_detections
from evaluation.images import load_rgb
from evaluation.result import BenchmarkResult, group_mean, mean

_SAMPLE = re.compile(r"^\d+\.png$")


def scan_folder(outdir: str | os.PathLike[str]) -> list[tuple[GenEvalPrompt, list[Path]]]:
    """Prompt folders `<%05d>/` (metadata.jsonl + samples/<n>.png), in index order."""
    root = Path(outdir)
    if not root.is_dir():
        raise BenchmarkInputError(f"GenEval folder {root} does not exist; run generate_geneval")
    found = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and p.name.isdigit()):
        meta_path = sub / "metadata.jsonl"
        if not meta_path.is_file():
            raise BenchmarkInputError(f"{meta_path} missing; regenerate folder {sub.name}")
        try:
            row = json.loads(meta_path.read_text(encoding="utf-8").splitlines()[0])
        except (json.JSONDecodeError, IndexError) as err:
            raise BenchmarkInputError(f"{meta_path} is not one JSON line; regenerate it") from err
        prompt = parse_row(row, int(sub.name), str(meta_path))
        samples = sorted(
            (p for p in (sub / "samples").glob("*.png") if _SAMPLE.match(p.name)),
            key=lambda p: int(p.stem),
        )
        found.append((prompt, samples))
    if not found:
        raise BenchmarkInputError(f"no <%05d>/ prompt folders in {root}; run generate_geneval")
    return found


def summarize(records: Sequence[dict[str, Any]], meta: dict[str, Any]) -> BenchmarkResult:
    """Per-tag accuracy = mean image correctness within the tag; overall = mean over tags.

    `meta` gains the image-level and prompt-level ("any sample correct") accuracies that
    upstream's summary also prints.
    """
    if not records:
        raise BenchmarkInputError("no scored GenEval images; generate images before scoring")
    per_tag = group_mean((r["tag"], float(r["correct"])) for r in records)
    by_prompt: dict[int, bool] = {}
    for r in records:
        by_prompt[r["index"]] = by_prompt.get(r["index"], False) or bool(r["correct"])
    info = dict(meta)
    info.update(
        images=len(records),
        prompts=len(by_prompt),
        image_accuracy=mean(float(r["correct"]) for r in records),
        prompt_accuracy=mean(float(v) for v in by_prompt.values()),
    )
    return BenchmarkResult("geneval", mean(per_tag.values()), per_tag, list(records), info)


def score_geneval(
    outdir: str | os.PathLike[str],
    detector: ObjectDetector,
    color_classifier: ColorClassifier,
    batch_size: int = 8,
    max_objects: int = MAX_OBJECTS,
    progress: bool = True,
) -> BenchmarkResult:
    """Detect objects on every sample (in batches), apply `rules.evaluate`, aggregate.

    per_item rows: {index, tag, prompt, file, correct, reason, detections: {class: [box+score]}}.
    """
    work = [(prompt, path) for prompt, paths in scan_folder(outdir) for path in paths]
    records: list[dict[str, Any]] = []
    steps = range(0, len(work), batch_size)
    for start in tqdm(steps, desc="geneval score", disable=not progress, unit="batch"):
        chunk = work[start : start + batch_size]
        images = [load_rgb(path) for _, path in chunk]
        detections = detector.detect(images)
        for (prompt, path), image, dets in zip(chunk, images, detections, strict=True):
            kept = keep_detections(dets, prompt.tag, max_objects)

            def colors(objs: Sequence[Detection], cls: str, image: np.ndarray = image) -> list[str]:
                return color_classifier.classify([masked_crop(image, d) for d in objs], cls)

            verdict = evaluate(prompt, kept, colors)
            records.append(
                {
                    "index": prompt.index,
                    "tag": prompt.tag,
                    "prompt": prompt.prompt,
                    "file": str(path),
                    "correct": verdict.correct,
                    "reason": "\n".join(verdict.reasons),
                    "detections": {
                        cls: [[*map(float, d.box), float(d.score)] for d in objs]
                        for cls, objs in kept.items()
                    },
                }
            )
    meta = {
        "detector": detector.name,
        "color_classifier": color_classifier.name,
        "max_objects": max_objects,
        "outdir": str(outdir),
    }
    return summarize(records, meta)
