"""`twinflow plan`: parameter counts equal the built network; the memory arithmetic."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from twinflow.plan import NetworkSize, activation_bytes, model_states

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("deepspeed")


@pytest.mark.parametrize("name", ["qwen_lora", "sana_1600m"])
def test_plan_counts_the_network_the_run_builds(name, tiny_assets, monkeypatch, capsys):
    from twinflow.lightning_cli import TwinFlowCLI
    from twinflow.plan import main

    monkeypatch.setenv("TWINFLOW_TINY", str(tiny_assets))
    path = str(ROOT / f"experiments/tiny/{name}.yaml")
    main(["--config", path, "--gpus", "2"])
    out = capsys.readouterr().out
    total, trainable = map(float, re.search(r"([\d.]+) B parameters \(([\d.]+) B trainable",
                                            out).groups())
    cli = TwinFlowCLI(args=["--config", path, "--trainer.logger", "false"], run=False)
    cli.model.configure_model()
    params = list(cli.model.network.parameters())
    assert total == round(sum(p.numel() for p in params) / 1e9, 2)
    assert trainable == round(sum(p.numel() for p in params if p.requires_grad) / 1e9, 3)
    assert "first setting that fits 80 GB GPUs" in out
    ema = float(re.search(r"EMA \(model.ema_decay\): full copy ([\d.]+) GB", out).group(1))
    assert ema == round(4 * sum(p.numel() for p in params if p.requires_grad) / 1e9, 1)


def test_plan_runs_where_the_planned_gpu_run_cannot(tiny_assets, monkeypatch, capsys):
    """qwen_full's trainer names GPUs and ZeRO-3; planning it needs neither."""
    from twinflow.plan import main

    monkeypatch.setenv("TWINFLOW_QWEN_IMAGE", str(tiny_assets / "qwen_image"))
    monkeypatch.setenv("TWINFLOW_DATA", str(tiny_assets / "images"))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    main(["--config", str(ROOT / "experiments/qwen_full.yaml"), "--gpus", "8",
          "--stock-config"])
    out = capsys.readouterr().out
    assert "20.44 B parameters" in out and "first setting that fits 80 GB GPUs" in out


def test_memory_arithmetic():
    size = NetworkSize(total=1000, trainable=1000, largest_layer=100, hidden=8, layers=2)
    assert activation_bytes(size, tokens=10, micro_batch=3, grad_rows=1.5) == (
        (2 * 10 * 8 * 2 + 34 * 10 * 8) * 3 * 1.5)
    rows = dict((name, gpu) for name, gpu, _ in model_states(size, gpus=4, nodes=1))
    assert rows["ZeRO-3"] == 4 * 100 + int(18 * 1000 / 4)  # DeepSpeed's estimator
    lora = NetworkSize(total=1000, trainable=100, largest_layer=10, hidden=8, layers=2)
    rows = dict((name, gpu) for name, gpu, _ in model_states(lora, gpus=4, nodes=1))
    assert rows["DDP (base replicated)"] == 2 * 900 + 18 * 100
