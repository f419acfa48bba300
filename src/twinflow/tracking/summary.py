"""The demo's final scores into the MLflow runs they describe, under the keys of summary.md.

A summary row ``"1 NFE"`` becomes ``summary/nfe1/<score>`` for every score in ``SCORES`` (all
metrics of ``DigitJudge.score`` and the ratios to the original), the original model's row
``"original, 32 NFE"`` becomes ``summary/original/...`` (its NFE in ``summary/original/nfe``)
and ``"real train digits"`` becomes ``summary/real_train_digits/...``.  The fine-tuned run
gets every row (so it carries its baseline beside it); the pretrain run gets its own
``summary/original/...``.  The values are those of ``summary.json``, unrounded, so the
dashboard and ``summary.md`` agree exactly.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from twinflow.judge.metrics import METRICS
from twinflow.tracking.params import read_run_record

SCORES = (*METRICS, "fd_ratio", "fd_judge2_ratio", "fd_pixel_ratio", "recall_diff")


def row_key(name: str) -> str:
    """``"1 NFE"`` -> ``nfe1``; ``"original, 32 NFE"`` -> ``original``."""
    if name.startswith("original"):
        return "original"
    match = re.fullmatch(r"(\d+) NFE", name)
    return f"nfe{match.group(1)}" if match else re.sub(r"[^a-z0-9]+", "_", name.lower())


def summary_metrics(summary: dict, only: str | None = None) -> dict[str, float]:
    out = {}
    for name, row in summary["rows"].items():
        key = row_key(name)
        if only is not None and key != only:
            continue
        for score in (*SCORES, "nfe"):
            if score in row:
                out[f"summary/{key}/{score}"] = float(row[score])
    return out


def log_summary(summary: dict, run_dir: Path, files: list[Path],
                pretrain_dir: Path | None = None) -> list[str]:
    """Log ``summary`` to the run recorded in ``run_dir`` (and the baseline to the pretrain
    run's); returns the run ids written.  Runs without a record (no MLflow logger) are
    skipped."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    written = []
    targets = [(run_dir, None, files)]
    if pretrain_dir is not None:
        targets.append((pretrain_dir, "original", []))
    for folder, only, artifacts in targets:
        record = read_run_record(folder)
        if not record:
            continue
        client = MlflowClient(record["tracking_uri"])
        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, 0) for k, v in summary_metrics(summary, only).items()]
        client.log_batch(record["run_id"], metrics=metrics)
        precision = summary.get("sample_precision", {}).get("original" if only else "final")
        if precision:  # bf16 or fp32: the scores' samples differ by that round-off
            client.set_tag(record["run_id"], "summary_sample_precision", precision)
        for path in artifacts:
            if path.is_file():
                client.log_artifact(record["run_id"], str(path), "summary")
        written.append(record["run_id"])
    return written


__all__ = ["log_summary", "row_key", "summary_metrics"]
