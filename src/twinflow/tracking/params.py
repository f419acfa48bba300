"""A fit's resolved config as MLflow params and tags, and the link to its parent run.

* params: every leaf of the config under its dotted key (``model.objective.init_args.
  partition.adv``), so runs filter and sort by any setting;
* tags: ``objective`` (flow_matching / rcgm / twinflow, read from the objective's settings,
  not its file name), ``phase`` (pretrain / fine-tune / train), ``backbone``, ``dataset``;
* ``mlflow.parentRunId`` when ``model.init_from`` comes from another run of the same store
  (each run folder records its run in ``mlflow_run.json``), so the dashboard nests a
  fine-tuning run under the run that trained its starting weights.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RUN_RECORD = "mlflow_run.json"
MAX_VALUE = 6000  # MLflow 3's limit on a param value


def flat_params(config: Any, prefix: str = "") -> dict[str, str]:
    """``{"a.b.c": "value"}`` for every leaf of nested dicts and lists (``None`` as "null")."""
    out: dict[str, str] = {}
    if isinstance(config, dict):
        items = [(str(k), v) for k, v in config.items() if not str(k).startswith("__")]
    elif isinstance(config, (list, tuple)) and config and any(
            isinstance(v, (dict, list, tuple)) for v in config):
        items = [(str(i), v) for i, v in enumerate(config)]
    else:
        text = "null" if config is None else json.dumps(config) if isinstance(
            config, (list, tuple)) else str(config)
        return {prefix: text[:MAX_VALUE]} if prefix else {}
    for key, value in items:
        out.update(flat_params(value, f"{prefix}.{key}" if prefix else key))
    return out


def _init(node: Any) -> dict:
    return (node or {}).get("init_args") or {} if isinstance(node, dict) else {}


def objective_kind(objective: dict | None) -> str:
    """Which method the objective's settings make (the same rules as ``objective.py``)."""
    args = _init(objective)
    partition = args.get("partition") or {}
    adv = float(partition.get("adv", 0.25))
    e2e, any_ = float(partition.get("e2e", 0.25)), float(partition.get("any", 0.25))
    order = int((args.get("rcgm") or {}).get("order", 2))
    rectify = float(args.get("rectify_weight", 0.5))
    if adv == 0 and e2e == 0 and any_ == 0 and order == 0:
        return "flow_matching"
    if adv == 0 and rectify == 0:
        return "rcgm"
    return "twinflow"


def config_tags(config: dict) -> dict[str, str]:
    model, data = config.get("model") or {}, config.get("data") or {}
    kind = objective_kind(model.get("objective"))
    network = (model.get("network") or {}).get("class_path", "")
    source = _init(data).get("source")
    tags = {
        "objective": kind,
        "phase": "fine-tune" if model.get("init_from") else
                 "pretrain" if kind == "flow_matching" else "train",
        "backbone": network.rsplit(".", 1)[-1],
        "dataset": str(data.get("class_path", "")).rsplit(".", 1)[-1]
                   + (f" ({source})" if source else ""),
    }
    return {k: v for k, v in tags.items() if v}


def parent_run(init_from: str | None, tracking_uri: str) -> str | None:
    """The run that wrote ``init_from`` (an export folder or checkpoint inside a run folder)."""
    if not init_from:
        return None
    path = Path(init_from).resolve()
    for folder in [path, *path.parents][:4]:
        record = folder / RUN_RECORD
        if record.is_file():
            try:
                info = json.loads(record.read_text())
            except (OSError, ValueError):
                return None
            return info.get("run_id") if info.get("tracking_uri") == tracking_uri else None
    return None


def write_run_record(run_dir: Path, tracking_uri: str, experiment_id: str, run_id: str) -> None:
    """``<run_dir>/mlflow_run.json``: which run of which store this folder's results are."""
    record = {"tracking_uri": tracking_uri, "experiment_id": experiment_id, "run_id": run_id}
    tmp = run_dir / f".{RUN_RECORD}.tmp"
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    tmp.replace(run_dir / RUN_RECORD)


def read_run_record(run_dir: Path) -> dict | None:
    try:
        return json.loads((Path(run_dir) / RUN_RECORD).read_text())
    except (OSError, ValueError):
        return None


__all__ = ["config_tags", "flat_params", "objective_kind", "parent_run", "read_run_record",
           "write_run_record"]
