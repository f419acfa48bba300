"""Scoring a finished digits run: sample files per NFE, the summary table, rescoring.

Every number comes from ``DigitJudge.score`` on samples drawn by ``twinflow.judge.protocol``.
The original (multi-step) model's row is the reference: each FD gets its ratio to the
original's (``fd_ratio``, ``fd_judge2_ratio``, ``fd_pixel_ratio``) and recall its difference
(``recall_diff``).  A ``real train digits`` row (``per_digit`` seeded training digits of each
digit, scored like samples) shows what real data reaches on every metric.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from twinflow.judge.metrics import METRICS, DigitJudge
from twinflow.judge.protocol import grid_order, sample_digits
from twinflow.viz import image_grid, save_png, save_samples

RATIOS = {"fd": "fd_ratio", "fd_judge2": "fd_judge2_ratio", "fd_pixel": "fd_pixel_ratio"}
REAL_ROW = "real train digits"
SELECTION_SEED_OFFSET = 1000  # the original's NFE is chosen on other noise than it is scored on


def _scores(judge: DigitJudge, images: np.ndarray, labels: np.ndarray, nfe: int | None) -> dict:
    row = judge.score(images, labels).as_dict()
    return row | ({"nfe": nfe} if nfe is not None else {})


def _save(out: Path, name: str, images, prompts, labels) -> None:
    save_samples(out / f"samples_{name}.npz", images, prompts, labels)
    save_png(image_grid(images[grid_order(labels)], rows=10), out / f"grid_{name}.png")


def real_row(judge: DigitJudge, per_digit: int) -> dict:
    """The scores of ``per_digit`` (at most 400) training digits of each digit, drawn with
    seed 0 (the same count as the samples: FD grows as the sample shrinks)."""
    from twinflow.data.digits import load_mnist5k

    train, rng = load_mnist5k("train"), np.random.default_rng(0)
    keep = np.concatenate([rng.permutation(np.flatnonzero(train.labels == d))[:per_digit]
                           for d in range(10)])
    return _scores(judge, train.images[keep], train.labels[keep], None)


def add_ratios(summary: dict) -> dict:
    """Ratios of each FD and the recall difference to the ``original`` row, in place."""
    rows = summary["rows"]
    name = next((n for n in rows if n.startswith("original")), None)
    if name is None:
        raise ValueError("the summary has no 'original, ...' row to compare with")
    reference = rows[name]
    for row in rows.values():
        for fd, ratio in RATIOS.items():
            row[ratio] = row[fd] / reference[fd]
        row["recall_diff"] = row["recall"] - reference["recall"]
    summary["reference_row"] = name
    return summary


def evaluate_run(
    final: Path,
    pretrained: Path,
    out: Path,
    per_digit: int = 100,
    multi_nfes: list[int] = (16, 32, 64),
    nfes: list[int] = (1, 2, 4),
    seed: int = 2024,
    judge: DigitJudge | None = None,
) -> dict:
    """Write ``samples_nfe{n}.npz`` (final model) and ``samples_multi.npz`` (original model at
    its best multi-step NFE, chosen by FD on seed ``seed + 1000`` and a fifth of the samples)
    with their grids into ``out``; return the summary with every metric and ratio."""
    from twinflow.export import load_module

    judge = judge or DigitJudge()
    rows: dict[str, dict] = {}
    model = load_module(final)
    for nfe in nfes:
        images, prompts, labels = sample_digits(model, per_digit, nfe, seed)
        _save(out, f"nfe{nfe}", images, prompts, labels)
        rows[f"{nfe} NFE"] = _scores(judge, images, labels, nfe)
    original = load_module(pretrained)
    choice = {}
    for nfe in multi_nfes:
        images, _, labels = sample_digits(original, max(10, per_digit // 5), nfe,
                                          seed + SELECTION_SEED_OFFSET, "mul")
        choice[nfe] = judge.score(images, labels).fd
    best = min(choice, key=choice.get)
    images, prompts, labels = sample_digits(original, per_digit, best, seed, "mul")
    _save(out, "multi", images, prompts, labels)
    rows[f"original, {best} NFE"] = _scores(judge, images, labels, best)
    rows[REAL_ROW] = real_row(judge, per_digit)
    summary = {"rows": rows, "multi_step_selection_fd": {str(k): v for k, v in choice.items()},
               "per_digit": per_digit, "seed": seed,
               "sample_precision": {"final": model.resolved_sample_precision(),
                                    "original": original.resolved_sample_precision()}}
    return add_ratios(summary)


def _load(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path) as data:
        if "labels" not in data:
            raise ValueError(f"{path} has no labels; write it with twinflow.viz.save_samples")
        return data["images"], data["labels"]


def sample_files(run_dir: Path) -> tuple[list[Path], Path]:
    """``samples_nfe<n>.npz`` (by NFE) and ``samples_multi.npz`` of a demo output folder."""
    run_dir = Path(run_dir)
    files = sorted(run_dir.glob("samples_nfe*.npz"),
                   key=lambda p: int(re.sub(r"\D", "", p.stem) or 0))
    multi = run_dir / "samples_multi.npz"
    if not files or not multi.is_file():
        raise FileNotFoundError(
            f"{run_dir} lacks samples_nfe<n>.npz or samples_multi.npz; give the folder where "
            "twinflow demo wrote its summary (runs/demo, or runs/demo/<objective>)"
        )
    return files, multi


def rescore(run_dir: Path, judge: DigitJudge | None = None) -> dict:
    """Score ``samples_nfe*.npz`` and ``samples_multi.npz`` of a finished demo again with every
    metric; keeps the other fields of an existing ``summary.json`` (timing, NFE choice)."""
    run_dir = Path(run_dir)
    files, multi = sample_files(run_dir)
    old_path = run_dir / "summary.json"
    summary = json.loads(old_path.read_text()) if old_path.is_file() else {}
    old_rows = summary.get("rows", {})
    original = next((n for n in old_rows if n.startswith("original")), "original, multi-step")
    judge = judge or DigitJudge()
    rows: dict[str, dict] = {}
    for path in files:
        nfe = int(path.stem.removeprefix("samples_nfe"))
        rows[f"{nfe} NFE"] = _scores(judge, *_load(path), nfe)
    images, labels = _load(multi)
    rows[original] = _scores(judge, images, labels, old_rows.get(original, {}).get("nfe"))
    per_digit = int(np.bincount(labels).max())
    rows[REAL_ROW] = real_row(judge, per_digit)
    summary |= {"rows": rows, "per_digit": per_digit, "rescored": True}
    return add_ratios(summary)


COLUMNS = [  # (header, key, format)
    ("accuracy", "accuracy", ".3f"), ("FD", "fd", ".1f"), ("FD / orig.", "fd_ratio", ".2f"),
    ("judge-2 accuracy", "accuracy_judge2", ".3f"), ("judge-2 FD", "fd_judge2", ".1f"),
    ("judge-2 FD / orig.", "fd_judge2_ratio", ".2f"), ("pixel FD", "fd_pixel", ".2f"),
    ("pixel FD / orig.", "fd_pixel_ratio", ".2f"), ("precision", "precision", ".3f"),
    ("recall", "recall", ".3f"), ("recall - orig.", "recall_diff", "+.3f"),
    ("diversity", "diversity", ".2f"),
]


def format_table(summary: dict) -> str:
    """The summary as a markdown table: one row per sampler, one column per metric."""
    head = "| sampler | " + " | ".join(h for h, _, _ in COLUMNS) + " |"
    lines = [head, "|---" * (len(COLUMNS) + 1) + "|"]
    for name, r in summary["rows"].items():
        cells = [format(r[k], f) if k in r else "-" for _, k, f in COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_summary(out: Path, summary: dict) -> str:
    """``summary.json`` and ``summary.md`` into ``out``; returns the table."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    table = format_table(summary)
    (out / "summary.md").write_text(table + "\n")
    return table


__all__ = ["METRICS", "RATIOS", "add_ratios", "evaluate_run", "format_table", "real_row",
           "rescore", "sample_files", "write_summary"]
