"""Diffusers-format exports: our class reloads them, the stock pipelines take the LoRA file."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from twinflow.export import load_module
from twinflow.lightning_cli import TwinFlowCLI
from twinflow.networks.contract import Conditioning
from twinflow.networks.qwen_image import pack, unpack

ROOT = Path(__file__).resolve().parents[1]


def _inputs(channels: int, h: int, w: int, width: int = 32, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, channels, h, w, generator=g)
    mask = torch.ones(2, 5, dtype=torch.long)
    mask[1, 3:] = 0
    t = torch.tensor([0.8, 0.4])
    return x, t, Conditioning(torch.randn(2, 5, width, generator=g), mask)


@pytest.fixture
def fitted(tiny_assets, tmp_path, monkeypatch):
    """``name`` -> (the module after a 2-step fit from its tiny experiment, its run folder)."""
    from twinflow.prepare import main as prepare

    monkeypatch.setenv("TWINFLOW_TINY", str(tiny_assets))

    def run(name: str, lr: str = "0.05"):
        path = str(ROOT / f"experiments/tiny/{name}.yaml")
        cache = ["--data.cache_dir", str(tmp_path / name / "cache")]
        prepare(["--config", path, "--no-progress", *cache])
        # a large lr, so that after two steps LoRA B != 0 and the EMA differs from the net
        cli = TwinFlowCLI(args=["fit", "--config", path, "--trainer.default_root_dir",
                                str(tmp_path / name), "--trainer.logger", "false",
                                "--trainer.max_steps", "2", "--model.optimizer.init_args.lr",
                                lr, *cache])
        return cli, tmp_path / name

    return run


def test_lora_export_merges_for_us_and_loads_into_the_stock_pipeline(fitted, tiny_assets):
    from diffusers import QwenImagePipeline, QwenImageTransformer2DModel

    from twinflow.networks.qwen_image import QwenImageTwinTransformer

    cli, run = fitted("qwen_lora")
    module, export = cli.model.eval(), run / "export"
    lora_b = [p for n, p in module.network.named_parameters() if "lora_B" in n]
    assert lora_b and any(p.abs().sum() > 0 for p in lora_b)  # the adapters did train

    merged = QwenImageTwinTransformer.from_pretrained(export, subfolder="transformer")
    assert not any("lora" in n for n, _ in merged.named_parameters())
    again = load_module(export)
    x, t, cond = _inputs(16, 4, 6)
    r = t * 0.25
    with torch.no_grad():
        want = module.sampling_network(x, t, r, cond)
        torch.testing.assert_close(again.network(x, t, r, cond), want, rtol=1e-4, atol=1e-5)

    # The stock pipeline on the stock base checkpoint, with our LoRA file: at r = t (the only
    # time the stock model knows) it is our trained model.
    stock = QwenImageTransformer2DModel.from_pretrained(tiny_assets / "qwen_image",
                                                        subfolder="transformer")
    pipe = QwenImagePipeline(scheduler=None, vae=None, text_encoder=None, tokenizer=None,
                             transformer=stock)
    pipe.load_lora_weights(str(export / "lora"))
    assert any("lora_A" in n for n, _ in pipe.transformer.named_parameters())
    with torch.no_grad():
        got = pipe.transformer(hidden_states=pack(x), encoder_hidden_states=cond.embeds,
                               encoder_hidden_states_mask=cond.mask, timestep=t,
                               img_shapes=[[(1, 2, 3)]] * 2, return_dict=False)[0]
        ours = module.network(x, t, t, cond)
    torch.testing.assert_close(unpack(got, 4, 6), ours, rtol=1e-4, atol=1e-5)
    embedder = load_file(export / "lora" / "target_time_embedder.safetensors")
    trained = dict(module.network.transformer.named_parameters())
    assert embedder and all(torch.equal(v, trained[k].detach()) for k, v in embedder.items())


def test_full_export_reloads_the_ema_weights_exactly(fitted):
    from twinflow.networks.sana import SanaTwinTransformer

    cli, run = fitted("sana_600m", lr="0.01")
    module, export = cli.model.eval(), run / "export"
    assert module.ema is not None
    again = load_module(export)
    assert again.ema is None  # the export *is* the EMA network
    x, t, cond = _inputs(32, 8, 12)
    with torch.no_grad():
        want = module.sampling_network(x, t, t * 0.5, cond)
        assert not torch.equal(want, module.network(x, t, t * 0.5, cond))
        assert torch.equal(again.network(x, t, t * 0.5, cond), want)
    assert SanaTwinTransformer.from_pretrained(export, subfolder="transformer") is not None


def test_export_command_from_a_checkpoint(fitted, tmp_path, capsys):
    from twinflow.export_command import main as export_main

    cli, run = fitted("sana_600m")
    ckpt = tmp_path / "last.ckpt"
    cli.trainer.save_checkpoint(ckpt)
    export_main([str(ckpt), "--out", str(tmp_path / "e")])
    assert "exported" in capsys.readouterr().out
    a = load_file(tmp_path / "e" / "transformer" / "diffusion_pytorch_model.safetensors")
    b = load_file(run / "export" / "transformer" / "diffusion_pytorch_model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(SystemExit, match="not a diffusers backbone"):
        from tests.evaluation.conftest import build_tiny_module
        from twinflow.export import export_module

        export_module(build_tiny_module(), tmp_path / "digits")
        export_main([str(tmp_path / "digits"), "--out", str(tmp_path / "d2"),
                     "--format", "diffusers"])
