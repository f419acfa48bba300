"""The MLflow dashboard's contents: one store, params, tags, lineage, curves, images, moves."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from twinflow.tracking.params import flat_params, objective_kind
from twinflow.tracking.store import StoreError, open_store, relocate_artifacts

ROOT = Path(__file__).resolve().parents[1]


def test_flat_params_keys_every_leaf():
    cfg = {"model": {"objective": {"init_args": {"partition": {"adv": 0.2}}}, "init_from": None},
           "trainer": {"callbacks": [{"class_path": "A", "init_args": {"n": [1, 2]}}]},
           "__path__": "x.yaml"}
    assert flat_params(cfg) == {
        "model.objective.init_args.partition.adv": "0.2", "model.init_from": "null",
        "trainer.callbacks.0.class_path": "A", "trainer.callbacks.0.init_args.n": "[1, 2]"}


@pytest.mark.parametrize("name, kind", [("flow_matching", "flow_matching"), ("rcgm", "rcgm"),
                                        ("twinflow", "twinflow"), ("twinflow_backbone", "twinflow"),
                                        ("twinflow_reference", "twinflow")])
def test_objective_tag_follows_the_settings(name, kind):
    cfg = yaml.safe_load((ROOT / f"configs/objective/{name}.yaml").read_text())
    assert objective_kind(cfg) == kind


def test_a_corrupt_store_is_one_line(tmp_path):
    db = tmp_path / "mlflow.db"
    db.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreError, match=f"{db} is not an MLflow store"):
        open_store(f"sqlite:///{db}")
    assert db.read_bytes() == b"not a database at all" * 100  # left as it was


def test_an_empty_default_experiment_is_hidden_one_with_runs_kept(tmp_path):
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    uri = f"sqlite:///{tmp_path / 'new' / 'mlflow.db'}"
    open_store(uri)
    client = MlflowClient(uri)
    assert [e.name for e in client.search_experiments()] == []  # the empty Default hidden
    assert client.get_experiment("0").lifecycle_stage == "deleted"  # restorable, not gone
    client.create_run(client.create_experiment("study"))
    open_store(uri)  # idempotent
    assert [e.name for e in client.search_experiments()] == ["study"]

    kept = f"sqlite:///{tmp_path / 'kept' / 'mlflow.db'}"
    MlflowClient(kept).create_run("0")  # someone logged into Default before
    open_store(kept)
    names = [e.name for e in MlflowClient(kept).search_experiments(ViewType.ACTIVE_ONLY)]
    assert names == ["Default"]


def _demo(run_dir: Path, env: dict, *extra: str) -> None:
    cmd = [sys.executable, "-m", "twinflow.cli", "demo", "--run-dir", str(run_dir),
           "--fm-steps", "2", "--steps", "2", "--per-digit", "10", "--multi-nfes", "4",
           "--trainer.logger.init_args.system_metrics_interval", "0.5",
           "--trainer.log_every_n_steps", "1", *extra]
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A miniature `make demo` + `make compare` (RCGM) into one store."""
    tmp = tmp_path_factory.mktemp("study")
    store = tmp / "runs" / "mlflow.db"
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{store}", "PYTHONPATH": str(ROOT)}
    run = tmp / "runs" / "demo"
    _demo(run, env)
    _demo(run, env, "--pretrained", str(run / "pretrain" / "export"), "--objective", "rcgm")
    return tmp, store, run


def _runs(store: Path):
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{store}")
    experiment = client.get_experiment_by_name("twinflow-digits")
    runs = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}
    return client, experiment, runs


def test_phases_and_compare_share_one_store_and_experiment(study):
    _, store, run = study
    client, experiment, runs = _runs(store)
    assert set(runs) == {"digits_fm", "digits_twinflow", "digits_rcgm"}
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    pre = runs["digits_fm"]
    assert {k: pre.data.tags[k] for k in ("objective", "phase", "backbone")} == {
        "objective": "flow_matching", "phase": "pretrain", "backbone": "DigitsUNet"}
    for name, kind in (("digits_twinflow", "twinflow"), ("digits_rcgm", "rcgm")):
        tags = runs[name].data.tags
        assert tags["objective"] == kind and tags["phase"] == "fine-tune"
        assert tags["mlflow.parentRunId"] == pre.info.run_id  # lineage to the pretrained run
        assert tags["twinflow.git_commit"] and tags["dataset"].startswith("DigitsDataModule")
        # the resolved precision, not the config's `null`, and why it was chosen
        assert tags["precision"] in ("32-true", "bf16-mixed") and tags["precision_decision"]
    assert {r.info.status for r in runs.values()} == {"FINISHED"}
    assert not list(store.parent.glob("demo/*/mlflow.db"))  # no per-run stores any more


def test_a_fit_logs_params_curves_images_and_system_metrics(study):
    _, store, run = study
    client, _, runs = _runs(store)
    tw = runs["digits_twinflow"]
    params = tw.data.params
    assert params["model.objective.init_args.partition.adv"] == "0.2"
    assert params["trainer.max_steps"] == "2" and "model.optimizer.init_args.lr" in params
    assert "epoch" not in tw.data.metrics and "loss" not in tw.data.metrics
    assert "train/loss" in tw.data.metrics
    for nfe in (1, 2, 4):  # quality per NFE as curves: one point per validation
        steps = [m.step for m in client.get_metric_history(tw.info.run_id, f"quality/nfe{nfe}/fd")]
        assert sorted(steps) == [1, 2]
    assert client.get_metric_history(runs["digits_fm"].info.run_id, "quality/multi32/fd")
    assert any(k.startswith("system/") for k in tw.data.metrics)
    images = {f.path for f in client.list_artifacts(tw.info.run_id, "images")}
    grids = [p for p in images if p.startswith("images/grids~nfe1+step+") and p.endswith(".png")]
    assert sorted(int(p.split("+step+")[1].split("+")[0]) for p in grids) == [1, 2]


def test_final_scores_match_the_summary_exactly(study):
    _, store, run = study
    client, _, runs = _runs(store)
    summary = json.loads((run / "summary.json").read_text())
    metrics = runs["digits_twinflow"].data.metrics
    from twinflow.tracking.summary import SCORES, row_key

    assert set(summary["rows"]) >= {"1 NFE", "2 NFE", "4 NFE", "real train digits"}
    assert len(SCORES) == 12 and {"fd_judge2_ratio", "fd_pixel_ratio", "recall_diff"} < set(SCORES)
    for name, row in summary["rows"].items():
        key = row_key(name)
        assert key in ("nfe1", "nfe2", "nfe4", "original", "real_train_digits"), name
        for score in SCORES:
            assert metrics[f"summary/{key}/{score}"] == row[score], (name, score)
    assert summary["rows"][summary["reference_row"]]["fd_pixel_ratio"] == 1.0
    table = (run / "summary.md").read_text()
    assert "judge-2 FD / orig." in table and "pixel FD" in table and "recall" in table
    assert "summary/original/fd" in runs["digits_fm"].data.metrics  # the baseline, on its run
    # the sampling precision the scores' images came from, in the summary and on each run
    precision = summary["sample_precision"]
    assert set(precision.values()) <= {"bf16", "fp32"}
    assert runs["digits_twinflow"].data.tags["summary_sample_precision"] == precision["final"]
    assert runs["digits_fm"].data.tags["summary_sample_precision"] == precision["original"]
    files = {f.path for f in client.list_artifacts(runs["digits_twinflow"].info.run_id, "summary")}
    assert {"summary/summary.json", "summary/summary.md"} <= files


def test_report_plots_the_runs_of_the_experiment(study, tmp_path):
    _, store, _ = study
    from twinflow.tracking.report_page import main as report

    report(["--store", f"sqlite:///{store}", "--out", str(tmp_path)])
    page = (tmp_path / "report.html").read_text()
    assert page.count("<tr>") == 4 and "digits_rcgm" in page and "nfe1/fd" in page
    assert (tmp_path / "fd_vs_nfe.png").stat().st_size > 5000


def test_artifacts_resolve_after_the_runs_folder_moves(study, tmp_path):
    from mlflow import MlflowClient

    tmp, store, _ = study
    moved = tmp_path / "elsewhere" / "runs"
    shutil.copytree(store.parent, moved)
    shutil.move(str(store.parent), str(tmp / "gone"))  # the original place no longer exists
    try:
        uri = f"sqlite:///{moved / 'mlflow.db'}"
        open_store(uri)  # what every fit, `make mlflow-ui` and `twinflow report` do first
        client = MlflowClient(uri)
        (run,) = client.search_runs(
            [client.get_experiment_by_name("twinflow-digits").experiment_id],
            "attributes.run_name = 'digits_twinflow'")
        assert run.info.artifact_uri.startswith(str(moved / "mlartifacts"))
        local = client.download_artifacts(run.info.run_id, "summary/summary.md", str(tmp_path))
        assert Path(local).read_text().startswith("| sampler |")
        with sqlite3.connect(moved / "mlflow.db") as db:
            assert relocate_artifacts(moved / "mlflow.db") == 0  # already there: idempotent
            (count,) = db.execute("select count(*) from runs where artifact_uri like ?",
                                  (f"%{tmp}/runs/%",)).fetchone()
        assert count == 0
    finally:
        shutil.move(str(tmp / "gone"), str(store.parent))
