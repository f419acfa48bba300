"""NativeBF16Precision: bf16 autocast where bf16 pays on the hardware, fp32 elsewhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from twinflow import bf16_units
from twinflow.bf16_units import bf16_enabled, cpu_bf16_speedup, has_native_bf16
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
    """Pretend the CPU has (``True``) or lacks bf16 units, and that bf16 measured ``speedup``
    times fp32 there; the cached answers are reset."""
    monkeypatch.delenv("TWINFLOW_BF16", raising=False)

    def pretend(native: bool, speedup: float = 2.0) -> None:
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: native)
        monkeypatch.setattr(bf16_units, "cpu_bf16_speedup", lambda: speedup)
        has_native_bf16.cache_clear()

    yield pretend
    has_native_bf16.cache_clear()


def test_auto_follows_the_cpu_and_the_measurement(cpu_units, caplog):
    cpu_units(False)
    assert NativeBF16Precision("cpu").precision == "32-true"
    cpu_units(True, speedup=1.6)
    assert NativeBF16Precision("cpu").precision == "bf16-mixed"
    assert "measured 1.60x" in bf16_units.reason("cpu")
    # bf16 units that do not pay (an Intel Xeon here: 0.73x) leave the run in fp32
    cpu_units(True, speedup=0.73)
    with caplog.at_level("INFO"):
        assert NativeBF16Precision("cpu").precision == "32-true"
    assert "precision: 32-true on cpu (bf16 measured 0.73x fp32 here; used from 1.15x)" in (
        caplog.text)


@pytest.fixture
def measured(monkeypatch, tmp_path):
    """A fresh ``$TWINFLOW_CACHE`` and a stand-in measurement that counts its calls."""
    monkeypatch.setenv("TWINFLOW_CACHE", str(tmp_path / "cache"))
    calls = []

    def measure() -> float:
        calls.append(1)
        return 1.7

    monkeypatch.setattr(bf16_units, "measure_cpu_bf16_speedup", measure)
    cpu_bf16_speedup.cache_clear()
    yield calls
    cpu_bf16_speedup.cache_clear()


def test_the_measurement_is_made_once_per_machine(measured, tmp_path):
    assert cpu_bf16_speedup() == 1.7
    (path,) = (tmp_path / "cache" / "precision").glob("cpu-bf16-*.json")
    record = json.loads(path.read_text())
    assert record["speedup"] == 1.7 and record["threads"] == torch.get_num_threads()
    cpu_bf16_speedup.cache_clear()  # a new process reads the file
    assert cpu_bf16_speedup() == 1.7 and len(measured) == 1
    path.write_text("{not json")  # a damaged record is measured again and replaced
    cpu_bf16_speedup.cache_clear()
    assert cpu_bf16_speedup() == 1.7 and len(measured) == 2
    assert json.loads(path.read_text())["speedup"] == 1.7


def test_an_unusable_cache_folder_still_decides(measured, monkeypatch, tmp_path, caplog):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("TWINFLOW_CACHE", str(tmp_path / "file"))
    assert cpu_bf16_speedup() == 1.7 and len(measured) == 1
    assert "measuring bf16 for this process only" in caplog.text


def test_processes_on_one_machine_agree(tmp_path):
    """Two ranks starting together: one measures, the other waits and reads its answer (each
    stand-in measurement returns its own process id, so a second measurement would differ)."""
    script = (
        "import os, time\n"
        "from twinflow import bf16_units as b\n"
        "b.measure_cpu_bf16_speedup = lambda: (time.sleep(1.0), float(os.getpid()))[1]\n"
        "print(b.cpu_bf16_speedup())\n"
    )
    env = {**os.environ, "TWINFLOW_CACHE": str(tmp_path)}
    ranks = [subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                              text=True) for _ in range(2)]
    answers = {rank.communicate(timeout=120)[0].strip() for rank in ranks}
    assert len(answers) == 1 and all(rank.returncode == 0 for rank in ranks)


@pytest.mark.parametrize("mode", ["grad", "no_grad", "inference_mode"])
def test_the_real_measurement_runs(mode):
    # sampling (no_grad) may be the first to ask for the decision on a machine
    region = {"grad": torch.enable_grad, "no_grad": torch.no_grad,
              "inference_mode": torch.inference_mode}[mode]
    with region():
        speedup = bf16_units.measure_cpu_bf16_speedup(batch=2, channels=8, size=4, repeats=1)
    assert 0 < speedup < float("inf")


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
