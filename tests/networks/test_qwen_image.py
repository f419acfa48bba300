"""Qwen-Image adapter: contract, exactness at r = t vs the stock model, checkpoints, training."""

from __future__ import annotations

import pytest
import torch
from diffusers import QwenImageTransformer2DModel
from diffusers.pipelines.qwenimage.pipeline_qwenimage import QwenImagePipeline

from twinflow.networks.contract import Conditioning
from twinflow.networks.pretrained import PretrainedPathError
from twinflow.networks.qwen_image import (
    TINY_QWEN_IMAGE_CONFIG,
    QwenImageNetwork,
    QwenImageTwinTransformer,
    pack,
    unpack,
)
from twinflow.objective.objective import TwinFlowObjective

B, C, H, W, L, D = 2, 16, 8, 6, 5, 32


def _inputs(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, C, H, W, generator=g)
    mask = torch.ones(B, L, dtype=torch.long)
    mask[1, 3:] = 0
    return x, torch.tensor([0.7, 0.3]), Conditioning(torch.randn(B, L, D, generator=g), mask)


@pytest.fixture
def net() -> QwenImageNetwork:
    torch.manual_seed(0)
    return QwenImageNetwork().eval()


def test_contract_shapes_and_packing(net):
    x, t, cond = _inputs()
    out = net(x, t, t * 0.5, cond)
    assert out.shape == x.shape and out.dtype == x.dtype and torch.isfinite(out).all()
    packed = QwenImagePipeline._pack_latents(x, B, C, H, W)
    torch.testing.assert_close(pack(x), packed, rtol=0, atol=0)
    torch.testing.assert_close(unpack(packed, H, W), x, rtol=0, atol=0)


def test_r_equals_t_matches_stock(net):
    stock = QwenImageTransformer2DModel(**TINY_QWEN_IMAGE_CONFIG).eval()
    missing, unexpected = stock.load_state_dict(net.transformer.state_dict(), strict=False)
    assert not missing and all("timestep_embedder_r." in k for k in unexpected)
    x, t, cond = _inputs()
    with torch.no_grad():
        ref = stock(  # as pipeline_qwenimage calls it: packed latents, timestep = sigma
            hidden_states=QwenImagePipeline._pack_latents(x, B, C, H, W),
            encoder_hidden_states=cond.embeds,
            encoder_hidden_states_mask=cond.mask,
            timestep=t,
            img_shapes=[[(1, H // 2, W // 2)]] * B,
            return_dict=False,
        )[0]
        out = net(x, t, t, cond)
    torch.testing.assert_close(pack(out), ref, atol=1e-5, rtol=1e-5)


def test_emb2_only_acts_when_r_differs_and_signs_matter(net):
    x, t, cond = _inputs()
    with torch.no_grad():
        same, diff = net(x, t, t, cond), net(x, t, t - 0.4, cond)
        for p in net.transformer.time_text_embed.timestep_embedder_r.parameters():
            p.add_(0.1)
        torch.testing.assert_close(net(x, t, t, cond), same, rtol=0, atol=0)
        assert not torch.allclose(net(x, t, t - 0.4, cond), diff)
        assert not torch.allclose(net(x, -t, -t, cond), same)


def test_checkpoints_load_stock_and_twin(net, tmp_path):
    x, t, cond = _inputs()
    stock = QwenImageTransformer2DModel(**TINY_QWEN_IMAGE_CONFIG)
    stock.save_pretrained(tmp_path / "stock" / "transformer")
    loaded = QwenImageNetwork(pretrained=str(tmp_path / "stock")).eval()
    emb = loaded.transformer.time_text_embed
    for a, b in zip(emb.timestep_embedder.parameters(), emb.timestep_embedder_r.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    with torch.no_grad():
        for p in net.transformer.time_text_embed.timestep_embedder_r.parameters():
            p.add_(0.05)
        expected = net(x, t, t * 0.2, cond)
    net.transformer.save_pretrained(tmp_path / "twin" / "transformer")
    again = QwenImageNetwork(pretrained=str(tmp_path / "twin")).eval()
    with torch.no_grad():
        torch.testing.assert_close(again(x, t, t * 0.2, cond), expected, rtol=0, atol=0)
    assert isinstance(again.transformer, QwenImageTwinTransformer)


def test_missing_folder_is_one_line(tmp_path):
    with pytest.raises(PretrainedPathError) as err:
        QwenImageNetwork(pretrained=str(tmp_path / "nowhere"))
    assert "nowhere" in str(err.value) and "\n" not in str(err.value)


def test_objective_steps_reduce_loss():
    torch.manual_seed(0)
    net = QwenImageNetwork()
    x, _, cond = _inputs(1)
    objective = TwinFlowObjective()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    losses = []
    for _ in range(8):
        torch.manual_seed(0)  # the same noise and times each step: the loss tracks the weights
        loss = objective(net, x, cond).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(torch.isfinite(torch.tensor(losses)))
    assert sum(losses[-3:]) < sum(losses[:3])
