"""Bad inputs across fit, validate, sample, demo and eval: one line, no traceback, nothing lost.

Every case runs the real command in a subprocess against a folder holding a trained run, its
checkpoint and export, and broken copies of them.  Each must exit non-zero with exactly one
line on stderr that names the problem, before any expensive work (a timeout far below a
training phase), and leave every file that was there byte for byte unchanged.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers import ROOT, run_cli, toy_config

TWINFLOW = [sys.executable, "-m", "twinflow.cli"]
EVAL = [sys.executable, "-m", "evaluation.run", "--no-progress"]
# No folder can be made here, not even by root (permission bits do not bind root, so a
# chmod-ed folder would not test anything under CI's root user).
UNWRITABLE = "/proc/twinflow-unwritable"
TINY_SANA = ROOT / "experiments/tiny/sana_600m.yaml"


def _digits_export(where: Path) -> Path:
    from tests.evaluation.conftest import build_tiny_module
    from twinflow.export import export_module

    return export_module(build_tiny_module(), where)


@pytest.fixture(scope="module")
def world(tmp_path_factory, tiny_assets) -> Path:
    w = tmp_path_factory.mktemp("world")
    # A prepared cache of the tiny SANA experiment (its files must survive the bad fits).
    subprocess.run([*TWINFLOW, "prepare", "--config", str(TINY_SANA), "--no-progress",
                    "--data.cache_dir", str(w / "tiny_cache")], check=True, capture_output=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT), "TWINFLOW_TINY": str(tiny_assets)})
    run_cli("fit", "--config", str(toy_config(w / "trained", steps=3)))
    run_cli("fit", "--config", str(toy_config(w / "wide", steps=1, hidden=64)))
    ckpt = w / "trained" / "checkpoints" / "last.ckpt"
    data = ckpt.read_bytes()
    (w / "truncated.ckpt").write_bytes(data[: len(data) // 3])
    (w / "random.ckpt").write_bytes(os.urandom(4096))
    (w / "notes.ckpt").write_text("not a checkpoint\n")
    (w / "empty").mkdir()
    digits = _digits_export(w / "digits")
    corrupt = w / "corrupt_weights"
    shutil.copytree(digits, corrupt)
    weights = corrupt / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:200])
    bad_yaml = w / "bad_yaml"
    shutil.copytree(digits, bad_yaml)
    (bad_yaml / "model.yaml").write_text("network: {class_path: [unclosed\n")
    wrong_yaml = w / "wrong_yaml"
    shutil.copytree(digits, wrong_yaml)
    (wrong_yaml / "model.yaml").write_text(yaml.safe_dump({"netwrk": 1}))
    (w / "a_file").write_text("x\n")
    (w / "corrupt.db").write_bytes(b"garbage" * 500)
    (w / "empty_prompts.txt").write_text("\n\n")
    cfg = toy_config(w / "fresh_cfg", steps=3)
    (w / "fit.yaml").write_text(cfg.read_text().replace(str(w / "fresh_cfg"), str(w / "new")))
    shutil.rmtree(w / "fresh_cfg")
    return w


def _cases(w: Path, tiny: Path) -> list[tuple[str, list[str], dict, str]]:
    """(name, argv, extra env, a word the line must contain)."""
    fit = [*TWINFLOW, "fit", "--config", str(w / "fit.yaml")]
    tiny_fit = [*TWINFLOW, "fit", "--config", str(TINY_SANA), "--trainer.logger", "false",
                "--trainer.default_root_dir", str(w / "tiny_run")]
    tiny_env = {"TWINFLOW_TINY": str(tiny)}
    no_gpu = {**tiny_env, "CUDA_VISIBLE_DEVICES": ""}
    wide = str(w / "wide/checkpoints/last.ckpt")
    digits = str(w / "digits")
    sample = [*TWINFLOW, "sample"]
    return [
        ("fit: config missing", [*TWINFLOW, "fit", "--config", str(w / "nope.yaml")], {},
         "nope.yaml"),
        ("fit: unknown key", [*fit, "--trainer.max_stepz", "3"], {}, "max_stepz"),
        ("fit: bad type", [*fit, "--trainer.max_steps", "many"], {}, "max_steps"),
        ("fit: negative lr", [*fit, "--model.optimizer.init_args.lr", "-1"], {}, "learning rate"),
        ("fit: nan lr", [*fit, "--model.optimizer.init_args.lr", "nan"],
         {}, "lr"),
        ("fit: max_steps 0", [*fit, "--trainer.max_steps", "0"], {}, "max_steps"),
        ("fit: max_steps negative", [*fit, "--trainer.max_steps", "-5"], {}, "max_steps"),
        ("fit: ema out of range", [*fit, "--model.ema_decay", "1.5"], {}, "ema_decay"),
        ("fit: warm-down out of range", [*fit, "--model.lr_warmdown", "2"], {}, "lr_warmdown"),
        ("fit: warm-down without max_steps", [*fit, "--model.lr_warmdown", "0.3",
                                              "--trainer.max_steps", "-1"], {}, "lr_warmdown"),
        ("fit: batch size 0", [*fit, "--data.batch_size", "0"], {}, "batch_size"),
        # (CUDA hidden, so the case means the same on a GPU machine)
        ("fit: GPU trainer without a GPU", [*fit, "--trainer.accelerator", "gpu"],
         {"CUDA_VISIBLE_DEVICES": ""}, "accelerator"),
        ("fit: unknown strategy", [*fit, "--trainer.strategy", "no_such_strategy"], {},
         "no_such_strategy"),
        ("fit: backbone without a prepared cache",
         [*tiny_fit, "--data.cache_dir", str(w / "no_cache")], tiny_env, "twinflow prepare"),
        ("fit: val_size larger than the cache",
         [*tiny_fit, "--data.cache_dir", str(w / "tiny_cache"), "--data.init_args.val_size",
          "1000"], tiny_env, "val_size"),
        ("fit: cache prepared with other buckets",
         [*tiny_fit, "--data.cache_dir", str(w / "tiny_cache"), "--data.init_args.buckets",
          "[[32, 32]]"], tiny_env, "buckets"),
        ("fit: GPU text conditioner without a GPU",
         [*tiny_fit, "--data.cache_dir", str(w / "tiny_cache"),
          "--model.conditioner.init_args.device", "cuda"], no_gpu, "conditioner"),
        ("prepare: --device cuda without a GPU",
         [*TWINFLOW, "prepare", "--config", str(TINY_SANA), "--device", "cuda",
          "--data.cache_dir", str(w / "cache_cuda")], no_gpu, "--device"),
        ("fit: ckpt_path missing", [*fit, "--ckpt_path", str(w / "nope.ckpt")], {}, "nope.ckpt"),
        ("fit: ckpt_path truncated", [*fit, "--ckpt_path", str(w / "truncated.ckpt")], {},
         "truncated.ckpt"),
        ("fit: ckpt_path random bytes", [*fit, "--ckpt_path", str(w / "random.ckpt")], {},
         "random.ckpt"),
        ("fit: ckpt_path text", [*fit, "--ckpt_path", str(w / "notes.ckpt")], {}, "notes.ckpt"),
        ("fit: ckpt_path other network size", [*fit, "--ckpt_path", wide], {}, "wide"),
        ("fit: ckpt_path a folder", [*fit, "--ckpt_path", str(w / "empty")], {}, "empty"),
        ("fit: init_from missing", [*fit, "--model.init_from", str(w / "gone")], {}, "gone"),
        ("fit: init_from other network", [*fit, "--model.init_from", digits], {}, "digits"),
        ("fit: init_from other size", [*fit, "--model.init_from", str(w / "wide/export")], {},
         "wide"),
        ("fit: init_from empty folder", [*fit, "--model.init_from", str(w / "empty")], {},
         "empty"),
        ("fit: init_from corrupt weights",
         [*fit, "--model.init_from", str(w / "corrupt_weights")], {}, "model.safetensors"),
        ("fit: into a trained run", [*TWINFLOW, "fit", "--config",
                                     str(w / "trained/config.in.yaml")], {}, "trained"),
        ("fit: unwritable run folder",
         [*fit, "--trainer.default_root_dir", UNWRITABLE + "/run"], {}, UNWRITABLE),
        ("fit: run folder is a file", [*fit, "--trainer.default_root_dir", str(w / "a_file")],
         {}, "a_file"),
        ("fit: corrupt MLflow store", [*fit, "--trainer.logger", "twinflow.tracking.MLFlowLogger"],
         {"MLFLOW_TRACKING_URI": f"sqlite:///{w / 'corrupt.db'}"}, "corrupt.db"),
        ("validate: ckpt missing", [*TWINFLOW, "validate", "--config", str(w / "fit.yaml"),
                                    "--ckpt_path", str(w / "nope.ckpt")], {}, "nope.ckpt"),
        ("validate: ckpt random", [*TWINFLOW, "validate", "--config", str(w / "fit.yaml"),
                                   "--ckpt_path", str(w / "random.ckpt")], {}, "random.ckpt"),
        ("validate: ckpt other size", [*TWINFLOW, "validate", "--config", str(w / "fit.yaml"),
                                       "--ckpt_path", wide], {}, "wide"),
        ("sample: model missing", [*sample, str(w / "gone")], {}, "gone"),
        ("sample: truncated ckpt", [*sample, str(w / "truncated.ckpt")], {}, "truncated.ckpt"),
        ("sample: random ckpt", [*sample, str(w / "random.ckpt")], {}, "random.ckpt"),
        ("sample: empty folder", [*sample, str(w / "empty")], {}, "empty"),
        ("sample: corrupt weights", [*sample, str(w / "corrupt_weights")], {},
         "model.safetensors"),
        ("sample: bad model.yaml", [*sample, str(w / "bad_yaml")], {}, "model.yaml"),
        ("sample: wrong model.yaml", [*sample, str(w / "wrong_yaml")], {}, "model.yaml"),
        ("sample: nfe 0", [*sample, digits, "--nfe", "0"], {}, "nfe"),
        ("sample: out is a file", [*sample, digits, "--out", str(w / "a_file")], {}, "a_file"),
        ("sample: out unwritable", [*sample, digits, "--out", UNWRITABLE + "/x"], {},
         UNWRITABLE),
        ("sample: count huge", [*sample, digits, "--count", "1000000000"], {}, "count"),
        ("sample: prompts file missing", [*sample, digits, "--prompts-file",
                                          str(w / "nope.txt")], {}, "nope.txt"),
        ("sample: prompts file empty", [*sample, digits, "--prompts-file",
                                        str(w / "empty_prompts.txt")], {}, "empty_prompts.txt"),
        ("demo: steps 0", [*TWINFLOW, "demo", "--run-dir", str(w / "d1"), "--steps", "0"], {},
         "steps"),
        ("demo: per-digit 0", [*TWINFLOW, "demo", "--run-dir", str(w / "d2"), "--per-digit",
                               "0"], {}, "per-digit"),
        ("demo: pretrained missing", [*TWINFLOW, "demo", "--run-dir", str(w / "d3"),
                                      "--pretrained", str(w / "gone")], {}, "gone"),
        ("demo: phase-2 override typo", [*TWINFLOW, "demo", "--run-dir", str(w / "d4"),
                                         "--model.optimizr.init_args.lr", "1"], {}, "optimizr"),
        ("demo: run dir is a file", [*TWINFLOW, "demo", "--run-dir", str(w / "a_file")], {},
         "a_file"),
        ("export: out is a file", [*TWINFLOW, "export", str(w / "trained/checkpoints/last.ckpt"),
                                   "--out", str(w / "a_file")], {}, "a_file"),
        ("export: out unwritable", [*TWINFLOW, "export", str(w / "trained/checkpoints/last.ckpt"),
                                    "--out", UNWRITABLE + "/x"], {}, UNWRITABLE),
        ("plan: gpu memory negative", [*TWINFLOW, "plan", "--config", str(w / "fit.yaml"),
                                       "--gpu-memory", "-5"], {}, "gpu-memory"),
        ("prepare: a data module without a cache",
         [*TWINFLOW, "prepare", "--config", str(ROOT / "experiments/digits_twinflow.yaml")], {},
         "no cache"),
        ("tiny-assets: out is a file", [*TWINFLOW, "tiny-assets", "--out", str(w / "a_file")],
         {}, "a_file"),
        ("eval: model missing", [*EVAL, "--model", str(w / "gone")], {}, "gone"),
        ("eval: random ckpt", [*EVAL, "--model", str(w / "random.ckpt")], {}, "random.ckpt"),
        ("eval: nfe 0", [*EVAL, "--model", digits, "--nfe", "0"], {}, "nfe"),
        ("eval: unknown benchmark", [*EVAL, "--model", digits, "--bench", "imagenet"], {},
         "imagenet"),
        ("eval: out is a file", [*EVAL, "--model", digits, "--out", str(w / "a_file")], {},
         "a_file"),
        ("eval: corrupt MLflow store", [*EVAL, "--model", digits, "--limit", "2", "--per-digit",
                                        "1", "--nfe", "1", "--out", str(w / "evalout")],
         {"MLFLOW_TRACKING_URI": f"sqlite:///{w / 'corrupt.db'}"}, "corrupt.db"),
    ]


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_every_bad_input_is_one_line_and_loses_nothing(world, tiny_assets):
    cases = _cases(world, tiny_assets)
    assert len(cases) >= 40
    before = _digest(world)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"}
    env.pop("MLFLOW_TRACKING_URI", None)
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{world / 'store' / 'mlflow.db'}"
    bad = []
    for name, argv, extra, word in cases:
        run = subprocess.run(argv, cwd=world, env={**env, **extra}, capture_output=True,
                             text=True, timeout=120)
        lines = [ln for ln in run.stderr.splitlines() if ln.strip()]
        ok = (run.returncode != 0 and len(lines) == 1 and "Traceback" not in run.stderr
              and word in lines[0] and "weights_only=False" not in run.stderr)
        if not ok:
            bad.append(f"{name}: rc={run.returncode} stderr={run.stderr[-400:]!r}")
    after = _digest(world)
    changed = [k for k, v in before.items() if after.get(k) != v]
    assert not bad, "\n".join(bad)
    assert not changed, changed
