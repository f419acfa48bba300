"""NativeBF16Precision: bf16 autocast where the hardware has bf16 units, fp32 elsewhere."""

from __future__ import annotations

import pytest
import torch

from twinflow.bf16_units import bf16_enabled, has_native_bf16
from twinflow.precision import NativeBF16Precision


@pytest.mark.parametrize("forced, expected", [("1", True), ("0", False)])
def test_env_forces_the_decision(monkeypatch, forced, expected):
    monkeypatch.setenv("TWINFLOW_BF16", forced)
    plugin = NativeBF16Precision("cpu")
    assert plugin.enabled is expected
    assert plugin.precision == ("bf16-mixed" if expected else "32-true")
    x = torch.randn(4, 8)
    with plugin.forward_context():
        y = torch.nn.functional.linear(x, torch.randn(3, 8))
    assert y.dtype == (torch.bfloat16 if expected else torch.float32)


@pytest.fixture
def cpu_units(monkeypatch):
    """Pretend the CPU has (``True``) or lacks bf16 units; the cached answer is reset."""
    monkeypatch.delenv("TWINFLOW_BF16", raising=False)

    def pretend(native: bool) -> None:
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: native)
        has_native_bf16.cache_clear()

    yield pretend
    has_native_bf16.cache_clear()


def test_auto_follows_the_cpu(cpu_units):
    assert bf16_enabled("cpu") is has_native_bf16("cpu")
    cpu_units(False)
    assert NativeBF16Precision("cpu").precision == "32-true"
    cpu_units(True)
    assert NativeBF16Precision("cpu").precision == "bf16-mixed"


@pytest.mark.parametrize("native", [True, False])
def test_auto_guidance_is_bf16_only_where_native(cpu_units, native):
    from twinflow.networks import DigitsUNet
    from twinflow.networks.contract import Conditioning
    from twinflow.objective.guidance import GuidedVelocity

    cpu_units(native)
    auto = GuidedVelocity(ratio=0.2, precision="auto")
    assert auto.resolved_precision("cpu") == ("bf16" if native else "fp32")
    torch.manual_seed(0)
    net = DigitsUNet(widths=(16, 32), cond_dim=8, emb_dim=16).eval()
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.2)
    x, t, v = torch.randn(4, 1, 28, 28), torch.rand(4), torch.randn(4, 1, 28, 28)
    cond, null = Conditioning(torch.randn(4, 8)), Conditioning(torch.zeros(1, 8)).expand_to(4)
    same = GuidedVelocity(ratio=0.2, precision="bf16" if native else "fp32")
    assert torch.equal(auto(net, x, t, v, cond, null), same(net, x, t, v, cond, null))


def test_bad_values_are_one_line(monkeypatch):
    monkeypatch.setenv("TWINFLOW_BF16", "yes")
    with pytest.raises(ValueError, match="TWINFLOW_BF16='yes': use 0"):
        bf16_enabled("cpu")
    monkeypatch.delenv("TWINFLOW_BF16")
    with pytest.raises(ValueError, match="use 'cpu' or 'cuda'"):
        NativeBF16Precision("tpu")


def test_a_trainer_takes_it_as_its_precision(monkeypatch):
    import lightning.pytorch as pl

    monkeypatch.setenv("TWINFLOW_BF16", "0")
    trainer = pl.Trainer(accelerator="cpu", devices=1, plugins=[NativeBF16Precision("cpu")],
                         logger=False, enable_checkpointing=False, enable_progress_bar=False)
    assert trainer.precision == "32-true"
    assert isinstance(trainer.precision_plugin, NativeBF16Precision)


def test_a_bad_env_value_is_one_line_before_any_work(monkeypatch, tmp_path):
    from twinflow.cli import main

    monkeypatch.setenv("TWINFLOW_BF16", "yes")
    with pytest.raises(SystemExit) as stop:
        main(["fit", "--config", "experiments/digits_fm.yaml",
              "--trainer.default_root_dir", str(tmp_path / "run")])
    assert str(stop.value) == ("error: TWINFLOW_BF16='yes': use 0 (fp32), 1 (bf16) or leave it "
                               "unset (auto)")
    assert not (tmp_path / "run").exists()


def test_a_device_other_than_the_runs_is_refused_at_the_first_backward(monkeypatch):
    monkeypatch.setenv("TWINFLOW_BF16", "1")
    plugin = NativeBF16Precision("cuda")
    loss = torch.ones((), requires_grad=True)
    with pytest.raises(ValueError, match="set its init_args.device to 'cpu'"):
        plugin.pre_backward(loss, None)
    from lightning.pytorch.plugins.precision import MixedPrecision

    monkeypatch.setattr(MixedPrecision, "pre_backward", lambda self, tensor, module: tensor)
    assert NativeBF16Precision("cpu").pre_backward(loss, None) is loss
