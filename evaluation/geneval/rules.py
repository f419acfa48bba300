"""GenEval's correctness rules, as a pure function of detections (djghosh13/geneval).

Rules (upstream `evaluation/evaluate_images.py`, defaults):
* keep detections with score > 0.3 (> 0.9 when the prompt tag is `counting`), sorted by score,
  at most 16 per class; no extra NMS (upstream's default `max_overlap` is 1.0);
* an include clause {class, count} needs >= count kept detections; only the `count` most
  confident are used for its colour/position checks;
* colour: all of those `count` objects must be classified as the required colour;
* position: every one of them must stand in the relation to every object of the target group,
  and the target group must itself have matched;
* an exclude clause {class, count} fails when >= count detections are kept. Counting rows carry
  exclude count N+1, so with include count N this means "exactly N".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from evaluation.geneval.prompts import GenEvalPrompt

THRESHOLD = 0.3
COUNTING_THRESHOLD = 0.9
MAX_OBJECTS = 16
POSITION_THRESHOLD = 0.1


@dataclass(frozen=True)
class Detection:
    """One detected instance: class name, confidence, box (x1, y1, x2, y2) in pixels and an
    optional (H, W) bool mask over the whole image."""

    cls: str
    score: float
    box: tuple[float, float, float, float]
    mask: np.ndarray | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Verdict:
    """Per-image outcome: `correct` and the human-readable reasons for a failure."""

    correct: bool
    reasons: tuple[str, ...]


ColorFn = Callable[[Sequence[Detection], str], list[str]]


def keep_detections(
    detections: Sequence[Detection], tag: str, max_objects: int = MAX_OBJECTS
) -> dict[str, list[Detection]]:
    """Per class: detections above the tag's threshold, by descending score, at most 16."""
    threshold = COUNTING_THRESHOLD if tag == "counting" else THRESHOLD
    by_class: dict[str, list[Detection]] = {}
    for det in detections:
        if det.score > threshold:
            by_class.setdefault(det.cls, []).append(det)
    return {
        cls: sorted(dets, key=lambda d: d.score, reverse=True)[:max_objects]
        for cls, dets in by_class.items()
    }


def relative_position(
    box_a: Sequence[float], box_b: Sequence[float], margin: float = POSITION_THRESHOLD
) -> set[str]:
    """Relations of A to B (subset of left of / right of / above / below; y grows downwards).

    offset = centre_A - centre_B; each axis is shrunk towards 0 by margin * (size_A + size_B)
    on that axis (clipped at 0, sign kept). If both shrunk components are < 1e-3 in magnitude
    there is no relation. Otherwise (dx, dy) = shrunk offset / |offset| (norm of the unshrunk
    offset) and a relation holds when its component passes 0.5: dx < -0.5 left of,
    dx > 0.5 right of, dy < -0.5 above, dy > 0.5 below.
    """
    a = np.asarray(box_a[:4], dtype=np.float64).reshape(2, 2)
    b = np.asarray(box_b[:4], dtype=np.float64).reshape(2, 2)
    offset = a.mean(axis=0) - b.mean(axis=0)
    sizes = np.abs(a[1] - a[0]) + np.abs(b[1] - b[0])
    shrunk = np.maximum(np.abs(offset) - margin * sizes, 0.0) * np.sign(offset)
    if np.all(np.abs(shrunk) < 1e-3):
        return set()
    dx, dy = shrunk / np.linalg.norm(offset)
    relations = set()
    if dx < -0.5:
        relations.add("left of")
    if dx > 0.5:
        relations.add("right of")
    if dy < -0.5:
        relations.add("above")
    if dy > 0.5:
        relations.add("below")
    return relations


def evaluate(
    prompt: GenEvalPrompt, kept: dict[str, list[Detection]], classify_colors: ColorFn
) -> Verdict:
    """Apply the include/exclude rules to already-filtered detections (`keep_detections`).

    `classify_colors(objects, class_name)` returns one colour name per object; it is only
    called for clauses that request a colour and have enough objects.
    """
    reasons: list[str] = []
    groups: list[list[Detection] | None] = []
    for req in prompt.include:
        found = kept.get(req.cls, [])[: req.count]
        matched = len(found) >= req.count
        if not matched:
            reasons.append(f"expected {req.cls}>={req.count}, found {len(found)}")
        if matched and req.color is not None:
            colors = classify_colors(found, req.cls)
            if colors.count(req.color) < req.count:
                matched = False
                reasons.append(f"expected {req.count} {req.color} {req.cls}, classified {colors}")
        if matched and req.position is not None:
            relation, target = req.position
            targets = groups[target]
            if targets is None:
                matched = False
                reasons.append(f"no target for {req.cls} to be {relation}")
            else:
                for obj in found:
                    bad = [t for t in targets if relation not in relative_position(obj.box, t.box)]
                    if bad:
                        found_rel = relative_position(obj.box, bad[0].box)
                        reasons.append(f"expected {req.cls} {relation} target, found {found_rel}")
                        matched = False
                        break
        groups.append(found if matched else None)
    for req in prompt.exclude:
        n = len(kept.get(req.cls, []))
        if n >= req.count:
            reasons.append(f"expected {req.cls}<{req.count}, found {n}")
    return Verdict(correct=not reasons, reasons=tuple(reasons))
