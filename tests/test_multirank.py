"""Sharded training on 2 CPU ranks (subprocesses): DeepSpeed ZeRO-3 and DDP.

Each run is a real `lightning fit` of the tiny SANA experiment with 2 ranks; a probe callback
(``tests/rank_probe.py``) injects a NaN batch on rank 1 at step 1 and records what each rank
holds.  A hang fails the test through the subprocess timeout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("deepspeed")


def _fit(tmp: Path, tiny: Path, name: str, trainer: list[str], steps: int = 3) -> Path:
    out = tmp / name
    env = {**os.environ, "TWINFLOW_TINY": str(tiny), "PYTHONPATH": str(ROOT),
           "DS_ACCELERATOR": "cpu", "OMP_NUM_THREADS": "1"}
    probe = json.dumps({"class_path": "tests.rank_probe.RankProbe",
                        "init_args": {"out": str(out / "probe")}})
    cmd = [sys.executable, "-m", "twinflow.cli", "fit",
           "--config", str(ROOT / "experiments/tiny/sana_600m.yaml"), *trainer,
           "--trainer.max_steps", str(steps), "--trainer.logger", "false",
           # a validation with sample grids at step 2: every rank generates, rank 0 writes
           "--trainer.val_check_interval", "2",
           "--trainer.default_root_dir", str(out), "--model.ema_decay", "null",
           "--data.cache_dir", str(tmp / "cache"), f"--trainer.callbacks+={probe}"]
    run = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=420)
    assert run.returncode == 0, run.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def runs(tiny_assets, tmp_path_factory):
    from twinflow.prepare import main as prepare

    tmp = tmp_path_factory.mktemp("multirank")
    os.environ["TWINFLOW_TINY"] = str(tiny_assets)
    prepare(["--config", str(ROOT / "experiments/tiny/sana_600m.yaml"), "--no-progress",
             "--data.cache_dir", str(tmp / "cache")])
    zero3 = _fit(tmp, tiny_assets, "zero3",
                 ["--trainer", str(ROOT / "configs/trainer/deepspeed_zero3_cpu.yaml")])
    ddp = _fit(tmp, tiny_assets, "ddp", ["--trainer.accelerator", "cpu", "--trainer.devices",
                                         "2", "--trainer.strategy", "ddp"])
    return zero3, ddp


def _records(run: Path) -> list[dict]:
    return [json.loads((run / "probe" / f"rank{r}.json").read_text()) for r in (0, 1)]


def test_zero3_partitions_the_parameters(runs):
    zero3, ddp = runs
    for rec in _records(zero3):
        assert 0.4 < rec["held"] / rec["total"] < 0.6  # each rank holds about half
    for rec in _records(ddp):
        assert rec["held"] == rec["total"]


def test_zero3_streams_the_stock_checkpoint_in(runs, tiny_assets):
    """Built partitioned and filled one module at a time, the gathered weights are the file's,
    and the target-time embedder (absent from a stock checkpoint) equals the time embedder."""
    zero3, ddp = runs
    got = load_file(zero3 / "probe/initial.safetensors")
    stock = load_file(next((tiny_assets / "sana/transformer").glob("*.safetensors")))
    for k, v in stock.items():
        assert torch.equal(got[f"transformer.{k}"], v), k
    for k in [k for k in got if ".emb2." in k]:
        twin = k.replace("time_embed.emb2.", "time_embed.emb.timestep_embedder.")
        assert torch.equal(got[k], got[twin]), k
    ref = load_file(ddp / "probe/initial.safetensors")  # from_pretrained + from_stock
    assert all(torch.equal(got[k], ref[k]) for k in ref)


def test_nan_on_one_rank_is_skipped_on_both(runs):
    for run in runs:
        assert [(r["skipped"], r["step"]) for r in _records(run)] == [(1, 3), (1, 3)]


def test_sample_grids_under_zero3(runs):
    zero3, ddp = runs
    for run in runs:
        grids = sorted(p.name for p in (run / "grids").glob("*.png"))
        assert grids == ["nfe1_step000002.png", "nfe2_step000002.png"]


def test_zero3_steps_equal_ddp_steps(runs):
    zero3, ddp = runs
    a = load_file(zero3 / "probe/weights.safetensors")
    b = load_file(ddp / "probe/weights.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6, msg=k)
    start = load_file(next((Path(os.environ["TWINFLOW_TINY"]) / "sana" / "transformer")
                           .glob("*.safetensors")))
    assert any(not torch.equal(a[f"transformer.{k}"], v) for k, v in start.items())  # it trained


def test_sharded_checkpoint_converts_to_the_trained_weights(runs):
    from twinflow.export import load_module

    zero3, _ = runs
    final = zero3 / "checkpoints" / "final.ckpt"
    assert (final / "latest").is_file()
    want = load_file(zero3 / "probe/weights.safetensors")
    module = load_module(final)
    got = module.network.state_dict()
    for k, v in want.items():
        torch.testing.assert_close(got[k], v, rtol=0, atol=0, msg=k)
    # and the export written at the end of the fit holds the same transformer
    export = load_file(zero3 / "export/transformer/diffusion_pytorch_model.safetensors")
    for k, v in export.items():
        assert torch.equal(v, want[f"transformer.{k}"]), k
