"""TwinFlowModule reliability: bit-exact resume, skipped non-finite steps, safe checkpoints."""

import pickle

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from tests.helpers import run_cli, toy_config
from twinflow.export import load_module
from twinflow.lightning_cli import TwinFlowCLI
from twinflow.weights import CheckpointError, load_network_state, read_checkpoint


def test_resume_is_bit_identical_to_an_uninterrupted_run(tmp_path):
    full = tmp_path / "full"
    run_cli("fit", "--config", str(toy_config(full, steps=6)))
    half = tmp_path / "half"
    run_cli("fit", "--config", str(toy_config(half, steps=3)))
    resumed = tmp_path / "resumed"
    ckpt = half / "checkpoints" / "step=3.ckpt"
    run_cli("fit", "--config", str(toy_config(resumed, steps=6)), "--ckpt_path", str(ckpt))
    a = load_file(full / "export" / "model.safetensors")
    b = load_file(resumed / "export" / "model.safetensors")
    assert a.keys() == b.keys() and any(k.startswith("ema.") for k in a)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    # ...and training actually moved the weights.
    c = load_file(half / "export" / "model.safetensors")
    assert not all(torch.equal(a[k], c[k]) for k in a)


class NaNOnce(torch.nn.Module):
    """Wraps a network and returns NaN on its first training forward with grad."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.fired = False

    def forward(self, x, t, r, cond=None):
        out = self.inner(x, t, r, cond)
        if torch.is_grad_enabled() and not self.fired:
            self.fired = True
            return out * float("nan")
        return out


def test_non_finite_step_is_skipped_and_counted(tmp_path):
    cli = TwinFlowCLI(args=["--config", str(toy_config(tmp_path, steps=2, ema=0.9))], run=False)
    module = cli.model
    module.configure_model()
    module.network = NaNOnce(module.network)
    module.ema.shadow = NaNOnce(module.ema.shadow)
    before = {k: v.clone() for k, v in module.network.state_dict().items()}
    cli.trainer.fit(module, datamodule=cli.datamodule)
    assert int(module.ema.updates) == 1  # the EMA skipped the bad step too
    assert module.skipped_steps == 1
    after = module.network.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)  # the second step applied


def test_non_finite_gradient_leaves_weights_and_optimizer_untouched(tmp_path):
    cli = TwinFlowCLI(args=["--config", str(toy_config(tmp_path, steps=1, ema=None))], run=False)
    module = cli.model
    module.configure_model()
    opt = torch.optim.AdamW(module.network.parameters(), lr=0.1)
    for p in module.network.parameters():
        p.grad = torch.full_like(p, float("inf"))
    module._step_skipped = False
    module.on_before_optimizer_step(opt)
    before = [p.clone() for p in module.network.parameters()]
    opt.step()
    assert all(torch.equal(a, b) for a, b in zip(before, module.network.parameters()))
    assert module.skipped_steps == 1 and not opt.state


def test_checkpoints_load_weights_only_and_reject_pickles(tmp_path):
    run_cli("fit", "--config", str(toy_config(tmp_path, steps=3)))
    ckpt = tmp_path / "checkpoints" / "step=3.ckpt"
    assert "state_dict" in read_checkpoint(ckpt)
    module = load_module(ckpt)
    exported = load_module(tmp_path / "export")
    for (k, a), (_, b) in zip(module.state_dict().items(), exported.state_dict().items()):
        assert torch.equal(a, b), k
    evil = tmp_path / "evil.ckpt"
    evil.write_bytes(pickle.dumps(pickle.loads(pickle.dumps(np.ones(2)))))

    class Boom:
        def __reduce__(self):
            return (print, ("arbitrary code ran",))

    evil.write_bytes(pickle.dumps({"state_dict": Boom()}))
    with pytest.raises(CheckpointError, match="cannot load .* not a checkpoint twinflow wrote"):
        load_network_state(evil)
    with pytest.raises(CheckpointError, match="not found"):
        load_module(tmp_path / "missing.ckpt")


def test_toy_generation_is_deterministic(tmp_path):
    run_cli("fit", "--config", str(toy_config(tmp_path, steps=3)))
    module = load_module(tmp_path / "export")
    a = module.generate(None, nfe=2, seed=5, count=10)
    b = module.generate(None, nfe=2, seed=5, count=10)
    c = module.generate(None, nfe=2, seed=6, count=10)
    assert a.shape == (10, 2) and np.array_equal(a, b) and not np.array_equal(a, c)
