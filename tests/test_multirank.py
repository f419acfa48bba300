"""Sharded training on 2 CPU ranks (subprocesses): DeepSpeed ZeRO-3, FSDP2 and DDP.

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


def _fit(tmp: Path, tiny: Path, name: str, trainer: list[str], steps: int = 3,
         extra: tuple[str, ...] = (), experiment: str = "sana_600m",
         probe_args: dict | None = None) -> Path:
    out = tmp / name
    env = {**os.environ, "TWINFLOW_TINY": str(tiny), "PYTHONPATH": str(ROOT),
           "DS_ACCELERATOR": "cpu", "OMP_NUM_THREADS": "1"}
    probe = json.dumps({"class_path": "tests.rank_probe.RankProbe",
                        "init_args": {"out": str(out / "probe"), **(probe_args or {})}})
    cmd = [sys.executable, "-m", "twinflow.cli", "fit",
           "--config", str(ROOT / f"experiments/tiny/{experiment}.yaml"), *trainer,
           "--trainer.max_steps", str(steps), "--trainer.logger", "false",
           # a validation with sample grids at step 2: every rank generates, rank 0 writes
           "--trainer.val_check_interval", "2",
           "--trainer.default_root_dir", str(out), "--model.ema_decay", "null",
           "--data.cache_dir", str(tmp / f"cache-{experiment}"), f"--trainer.callbacks+={probe}",
           *extra]
    run = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=420)
    assert run.returncode == 0, run.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def runs(tiny_assets, tmp_path_factory):
    from twinflow.prepare import main as prepare

    tmp = tmp_path_factory.mktemp("multirank")
    os.environ["TWINFLOW_TINY"] = str(tiny_assets)
    for experiment in ("sana_600m", "qwen_lora"):
        prepare(["--config", str(ROOT / f"experiments/tiny/{experiment}.yaml"), "--no-progress",
                 "--data.cache_dir", str(tmp / f"cache-{experiment}")])
    zero3 = _fit(tmp, tiny_assets, "zero3",
                 ["--trainer", str(ROOT / "configs/trainer/deepspeed_zero3_cpu.yaml")])
    ddp_trainer = ["--trainer.accelerator", "cpu", "--trainer.devices", "2",
                   "--trainer.strategy", "ddp"]
    ddp = _fit(tmp, tiny_assets, "ddp", ddp_trainer)
    # 2 steps, then resumed from the sharded checkpoint (weights and optimizer) to 3
    zero3_trainer = ["--trainer", str(ROOT / "configs/trainer/deepspeed_zero3_cpu.yaml")]
    first = _fit(tmp, tiny_assets, "first", zero3_trainer, steps=2)
    resumed = _fit(tmp, tiny_assets, "resumed", zero3_trainer, steps=3,
                   extra=("--ckpt_path", str(first / "checkpoints" / "final.ckpt")))
    fsdp2_trainer = ["--trainer", str(ROOT / "configs/trainer/fsdp2_cpu.yaml")]
    fsdp2 = _fit(tmp, tiny_assets, "fsdp2", fsdp2_trainer)
    fsdp2_first = _fit(tmp, tiny_assets, "fsdp2_first", fsdp2_trainer, steps=2)
    fsdp2_resumed = _fit(tmp, tiny_assets, "fsdp2_resumed", fsdp2_trainer, steps=3,
                         extra=("--ckpt_path", str(fsdp2_first / "checkpoints" / "last.ckpt")))
    lora = _fit(tmp, tiny_assets, "lora", zero3_trainer, steps=2, experiment="qwen_lora",
                extra=("--model.optimizer.init_args.lr", "0.05"))
    # a finite loss, a NaN in rank 1's gradient partition only
    grad_nan = _fit(tmp, tiny_assets, "grad_nan", zero3_trainer, probe_args={"grad_nan": True})
    # gradient accumulation 2, SGD (scale-sensitive, unlike Adam), the NaN batch of step 1
    # skipped: three steps under ZeRO-3 equal DDP's
    sgd = ("--trainer.accumulate_grad_batches", "2", "--trainer.gradient_clip_val", "0",
           "--model.optimizer", '{"class_path": "torch.optim.SGD", "init_args": {"lr": 0.5}}')
    acc = {name: _fit(tmp, tiny_assets, f"accumulate_{name}", trainer, steps=3, extra=sgd)
           for name, trainer in (("zero3", zero3_trainer), ("ddp", ddp_trainer))}
    _runs.update(resumed=resumed, fsdp2=fsdp2, lora=lora, grad_nan=grad_nan,
                 accumulate_zero3=acc["zero3"], accumulate_ddp=acc["ddp"],
                 fsdp2_resumed=fsdp2_resumed)
    return zero3, ddp


_runs: dict[str, Path] = {}


def _records(run: Path) -> list[dict]:
    return [json.loads((run / "probe" / f"rank{r}.json").read_text()) for r in (0, 1)]


def test_zero3_and_fsdp2_partition_the_parameters(runs):
    zero3, ddp = runs
    for rec in _records(zero3) + _records(_runs["fsdp2"]):
        assert 0.4 < rec["held"] / rec["total"] < 0.6  # each rank holds about half
        # sharded forwards are collectives: rows by mask, so every rank makes every call
        assert rec["row_select"] == "mask"
    for rec in _records(ddp):
        assert rec["held"] == rec["total"]
        assert rec["row_select"] == "auto"


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
    for run in [*runs, _runs["fsdp2"]]:
        assert [(r["skipped"], r["step"]) for r in _records(run)] == [(1, 3), (1, 3)]


def test_nan_gradient_in_one_shard_is_skipped_on_both(runs):
    """ZeRO-3, finite loss, a NaN in one rank's gradient partition: both ranks skip that step,
    so the weights equal the run that skipped the same step for a NaN loss."""
    zero3, _ = runs
    grad_nan = _runs["grad_nan"]
    assert [(r["skipped"], r["step"]) for r in _records(grad_nan)] == [(1, 3), (1, 3)]
    got, ref = (load_file(run / "probe/weights.safetensors") for run in (grad_nan, zero3))
    assert all(torch.isfinite(v).all() for v in got.values())
    assert all(torch.equal(got[k], ref[k]) for k in ref)


def test_sample_grids_under_zero3_and_fsdp2(runs):
    for run in [*runs, _runs["fsdp2"]]:
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


def test_resumed_from_a_sharded_checkpoint_equals_uninterrupted(runs):
    zero3, _ = runs
    resumed = _runs["resumed"]
    assert [(r["skipped"], r["step"]) for r in _records(resumed)] == [(1, 3), (1, 3)]
    a = load_file(zero3 / "probe/weights.safetensors")
    b = load_file(resumed / "probe/weights.safetensors")
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=1e-6, atol=1e-7, msg=k)


def test_fsdp2_steps_equal_ddp_steps(runs):
    _, ddp = runs
    a = load_file(_runs["fsdp2"] / "probe/weights.safetensors")
    b = load_file(ddp / "probe/weights.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6, msg=k)
    export = load_file(_runs["fsdp2"] / "export/transformer/diffusion_pytorch_model.safetensors")
    for k, v in export.items():  # the export at the end of the fit holds the gathered weights
        assert torch.equal(v, a[f"transformer.{k}"]), k


def test_zero3_lora_trains_the_adapters_only(runs, tiny_assets):
    lora = _runs["lora"]
    before = load_file(lora / "probe/initial.safetensors")
    after = load_file(lora / "probe/weights.safetensors")
    adapters = [k for k in after if "lora_" in k]
    assert adapters and any(not torch.equal(after[k], before[k]) for k in adapters)
    stock = load_file(next((tiny_assets / "qwen_image/transformer").glob("*.safetensors")))
    for k, v in stock.items():  # the frozen base (PEFT names it ...base_layer...) is untouched
        key = f"transformer.{k}"
        key = key if key in after else key.replace(".weight", ".base_layer.weight").replace(
            ".bias", ".base_layer.bias")
        assert torch.equal(after[key], v), key
    assert (lora / "export/lora/pytorch_lora_weights.safetensors").is_file()


def test_zero3_gradient_accumulation_scales_and_skips_as_ddp(runs):
    # DeepSpeed's engine divides by the accumulation steps a second time unless told not to,
    # and a skipped step must not shift its accumulation boundary off Lightning's.
    for run in ("accumulate_zero3", "accumulate_ddp"):
        assert [(r["skipped"], r["step"]) for r in _records(_runs[run])] == [(1, 3), (1, 3)]
    a = load_file(_runs["accumulate_zero3"] / "probe/weights.safetensors")
    b = load_file(_runs["accumulate_ddp"] / "probe/weights.safetensors")
    start = load_file(_runs["accumulate_ddp"] / "probe/initial.safetensors")
    assert max((b[k] - start[k]).abs().max().item() for k in b) > 1e-4
    for key in b:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5, msg=key)


def test_fsdp2_resumed_equals_uninterrupted_and_exports(runs, tmp_path):
    from twinflow.export_command import main as export

    fsdp2, resumed = _runs["fsdp2"], _runs["fsdp2_resumed"]
    assert [(r["skipped"], r["step"]) for r in _records(resumed)] == [(1, 3), (1, 3)]
    want = load_file(fsdp2 / "probe/weights.safetensors")
    got = load_file(resumed / "probe/weights.safetensors")
    for k in want:
        torch.testing.assert_close(got[k], want[k], rtol=1e-6, atol=1e-7, msg=k)
    # `twinflow export` of the distributed checkpoint (one process, no process group)
    final = fsdp2 / "checkpoints" / "last.ckpt"
    assert (final / ".metadata").is_file()
    export([str(final), "--out", str(tmp_path / "export")])
    got = load_file(tmp_path / "export/transformer/diffusion_pytorch_model.safetensors")
    assert got.keys() == {k.removeprefix("transformer.") for k in want}
    for k, v in got.items():
        assert torch.equal(v, want[f"transformer.{k}"]), k


def test_digits_unet_trains_under_zero3(tmp_path):
    """The CPU demo's U-Net on 2 ZeRO-3 ranks: its second time embedding is built as a new
    module (a deep copy under zero.Init duplicated partitioned parameters and stopped the first
    step in DeepSpeed's fetch); warm-started with model.init_from, which fills the
    partitioned network one gathered module at a time."""
    from safetensors.torch import save_file

    from twinflow.networks import DigitsUNet

    torch.manual_seed(7)
    start = {k: v.contiguous() for k, v in DigitsUNet().state_dict().items()}
    save_file(start, tmp_path / "start.safetensors")
    out = tmp_path / "digits_zero3"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DS_ACCELERATOR": "cpu", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "twinflow.cli", "fit",
           "--config", str(ROOT / "experiments/digits_twinflow.yaml"),
           "--trainer", str(ROOT / "configs/trainer/deepspeed_zero3_cpu.yaml"),
           "--trainer.plugins", "null", "--trainer.callbacks", "null",
           "--trainer.logger", "false", "--trainer.limit_val_batches", "0",
           "--trainer.max_steps", "2", "--trainer.default_root_dir", str(out),
           "--data.init_args.batch_size", "16", "--model.ema_decay", "null",
           "--model.init_from", str(tmp_path / "start.safetensors")]
    run = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=420)
    assert run.returncode == 0, run.stderr[-3000:]
    got = load_file(out / "export/model.safetensors")
    want = {f"network.{k}": v.shape for k, v in DigitsUNet().state_dict().items()}
    assert {k: v.shape for k, v in got.items()} == want
    # the warm start arrived: two AdamW steps at lr 1e-3 move each weight by <= 2e-3
    for name, value in start.items():
        if value.is_floating_point():
            assert (got[f"network.{name}"] - value).abs().max() <= 2.5e-3, name
    # emb2 starts equal to emb; two AdamW steps at lr 1e-3 move each weight by <= 2e-3
    for name in ("mlp.0.weight", "mlp.2.weight"):
        diff = got[f"network.time.emb.{name}"] - got[f"network.time.emb2.{name}"]
        assert diff.abs().max() <= 4.5e-3, name
