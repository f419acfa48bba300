"""Short real fits: the toy and the digits model learn (the loss falls), and samples follow."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
import yaml

from tests.helpers import ROOT, load_experiment, run_cli, toy_config
from twinflow.data.digits_datamodule import DigitsDataModule
from twinflow.export import load_module
from twinflow.networks import DigitsUNet
from twinflow.networks.analytic import GaussianMixtureVelocity
from twinflow.objective import BatchPartition, RCGMTarget, TwinFlowObjective


def mean_loss(net, objective, batches) -> float:
    torch.manual_seed(0)
    with torch.no_grad():
        return float(
            np.mean([objective(net, b.x, b.cond, b.null_cond).loss.item() for b in batches])
        )


def test_toy_twinflow_fit_learns_the_mixture(tmp_path):
    cli = run_cli(
        "fit",
        "--config",
        str(toy_config(tmp_path, steps=1500, ckpt_every=1500, ema=None, hidden=128, lr=2e-3)),
    )
    module = load_module(tmp_path / "export")
    mixture: GaussianMixtureVelocity = cli.datamodule.mixture
    samples = torch.from_numpy(module.generate(None, nfe=1, seed=0, count=2000))
    # Distance of each 1-NFE sample to its nearest mode, vs. the untrained (all-noise) output.
    dist = torch.cdist(samples, mixture.means).min(dim=1).values
    noise = torch.randn(2000, 2)
    baseline = torch.cdist(noise, mixture.means).min(dim=1).values
    assert dist.median() < 0.35 * baseline.median(), (dist.median(), baseline.median())


def test_digits_fit_loss_falls():
    data = DigitsDataModule(batch_size=32)
    data.setup()
    batches = iter(data.train_dataloader())
    held = [next(batches) for _ in range(4)]
    torch.manual_seed(0)
    net = DigitsUNet(widths=(16, 32), patch=2)
    objective = TwinFlowObjective(
        partition=BatchPartition(e2e=0, mul=1, any=0, adv=0, mul_window=0),
        rcgm=RCGMTarget(order=0),
        rectify_weight=0,
        time_weighting=False,
    )
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3)
    before = mean_loss(net, objective, held)
    for _ in range(60):
        b = next(batches)
        loss = objective(net, b.x, b.cond, b.null_cond).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = mean_loss(net, objective, held)
    assert after < 0.8 * before, (before, after)


def tiny_digits_config(root: Path) -> Path:
    cfg = load_experiment("digits_twinflow")
    cfg["trainer"].update(
        default_root_dir=str(root),
        max_steps=2,
        logger=False,
        enable_progress_bar=False,
        limit_val_batches=1,
        val_check_interval=2,
        callbacks=[
            {
                "class_path": "twinflow.callbacks.sample_grids.SampleGrids",
                "init_args": {"nfes": [1, 2], "multi_step_nfe": 4, "per_prompt": 2},
            },
            {"class_path": "twinflow.callbacks.samples_writer.SamplesWriter"},
        ],
    )
    cfg["model"]["network"]["init_args"]["widths"] = [16, 32]
    cfg["model"]["objective"] = yaml.safe_load(
        (ROOT / "configs/objective/twinflow.yaml").read_text()
    )
    cfg["data"]["init_args"].update(batch_size=16, predict_per_digit=2, predict_nfe=2)
    path = root / "tiny.yaml"
    root.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_digits_fit_grids_export_and_sample_command(tmp_path):
    run_cli("fit", "--config", str(tiny_digits_config(tmp_path)))
    assert sorted(p.name for p in (tmp_path / "grids").glob("*.png")) == [
        "multi4_step000002.png",
        "nfe1_step000002.png",
        "nfe2_step000002.png",
    ]
    out = tmp_path / "samples"
    cmd = [
        sys.executable,
        "-m",
        "twinflow.cli",
        "sample",
        str(tmp_path / "export"),
        "--nfe",
        "2",
        "--count",
        "3",
        "--seed",
        "7",
        "--out",
    ]
    first = subprocess.run([*cmd, str(out)], capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    again = subprocess.run(
        [*cmd, str(tmp_path / "again")], capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 0, again.stderr
    a, b = np.load(out / "samples.npz"), np.load(tmp_path / "again" / "samples.npz")
    assert a["images"].dtype == np.uint8 and a["images"].shape == (30, 28, 28, 1)
    assert list(a["labels"]) == [d for d in range(10) for _ in range(3)]
    assert str(a["prompts"][0]) == "a handwritten zero"
    assert np.array_equal(a["images"], b["images"])
    assert (out / "grid_nfe2.png").is_file()
    bad = subprocess.run(
        [*cmd[:4], str(tmp_path / "nope.ckpt"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode != 0 and bad.stderr.strip().splitlines() == [
        f"error: model not found: {tmp_path / 'nope.ckpt'} (give a .ckpt file or an export folder)"
    ]


def test_validate_test_and_predict_subcommands(tmp_path):
    config = tiny_digits_config(tmp_path)
    run_cli("fit", "--config", str(config))
    for sub in ("validate", "test"):
        cli = run_cli(sub, "--config", str(config), "--model.init_from", str(tmp_path / "export"))
        assert any(
            k.startswith(f"{'val' if sub == 'validate' else 'test'}/L_base")
            for k in cli.trainer.callback_metrics
        )
    run_cli("predict", "--config", str(config), "--model.init_from", str(tmp_path / "export"))
    out = np.load(tmp_path / "predict" / "samples.npz")
    assert out["images"].shape == (20, 28, 28, 1) and list(out["labels"][:3]) == [0, 0, 1]
