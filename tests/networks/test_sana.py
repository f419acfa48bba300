"""SANA adapter: contract, exactness at r = t vs the stock model, checkpoints, training."""

from __future__ import annotations

import pytest
import torch
from diffusers import SanaTransformer2DModel

from twinflow.networks.contract import Conditioning
from twinflow.networks.pretrained import PretrainedPathError
from twinflow.networks.sana import TINY_SANA_CONFIG, SanaNetwork, SanaTwinTransformer
from twinflow.objective.objective import TwinFlowObjective

B, C, H, L, D = 2, 4, 8, 5, 32


def _inputs(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, C, H, H, generator=g)
    mask = torch.ones(B, L, dtype=torch.long)
    mask[1, 3:] = 0
    cond = Conditioning(torch.randn(B, L, D, generator=g), mask)
    t = torch.tensor([0.7, 0.3])
    return x, t, cond


@pytest.fixture
def net() -> SanaNetwork:
    torch.manual_seed(0)
    return SanaNetwork().eval()


def test_contract_shapes(net):
    x, t, cond = _inputs()
    out = net(x, t, t * 0.5, cond)
    assert out.shape == x.shape and out.dtype == x.dtype and torch.isfinite(out).all()
    assert isinstance(net.transformer, SanaTwinTransformer)


def test_r_equals_t_matches_stock(net):
    stock = SanaTransformer2DModel(**TINY_SANA_CONFIG).eval()
    missing, unexpected = stock.load_state_dict(net.transformer.state_dict(), strict=False)
    assert not missing and all(k.startswith("time_embed.emb2.") for k in unexpected)
    x, t, cond = _inputs()
    with torch.no_grad():
        ref = stock(  # as pipeline_sana calls it: timestep = sigma * 1000 * timestep_scale
            hidden_states=x,
            encoder_hidden_states=cond.embeds,
            encoder_attention_mask=cond.mask,
            timestep=t * 1000 * stock.config.timestep_scale,
            return_dict=False,
        )[0]
        out = net(x, t, t, cond)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


def test_emb2_only_acts_when_r_differs(net):
    x, t, cond = _inputs()
    with torch.no_grad():
        same, diff = net(x, t, t, cond), net(x, t, t - 0.4, cond)
        for p in net.transformer.time_embed.emb2.parameters():
            p.add_(0.5 * torch.randn_like(p))
        same2, diff2 = net(x, t, t, cond), net(x, t, t - 0.4, cond)
    torch.testing.assert_close(same, same2, atol=0, rtol=0)
    assert (diff - diff2).abs().max() > 1e-4


def test_negative_times_differ(net):
    x, t, cond = _inputs()
    with torch.no_grad():
        pos, neg = net(x, t, 0 * t, cond), net(x, -t, -0 * t - 0.1, cond)
        neg2 = net(x, -t, -t, cond)
    assert (pos - neg).abs().max() > 1e-4
    assert (net(x, t, t, cond) - neg2).abs().max() > 1e-4


def test_save_load_twin(net, tmp_path):
    with torch.no_grad():
        for p in net.transformer.time_embed.emb2.parameters():
            p.add_(0.1)
    net.transformer.save_pretrained(tmp_path / "transformer")
    loaded = SanaNetwork(pretrained=str(tmp_path)).eval()
    x, t, cond = _inputs()
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, t, t - 0.3, cond), net(x, t, t - 0.3, cond))
    direct = SanaTwinTransformer.from_pretrained(tmp_path / "transformer")
    assert isinstance(direct.time_embed.emb2, torch.nn.Module)


def test_stock_checkpoint_loads_with_emb2_copy(tmp_path):
    torch.manual_seed(1)
    stock = SanaTransformer2DModel(**TINY_SANA_CONFIG).eval()
    stock.save_pretrained(tmp_path / "transformer")
    net = SanaNetwork(pretrained=str(tmp_path)).eval()
    te = net.transformer.time_embed
    for a, b in zip(te.emb2.parameters(), te.emb.timestep_embedder.parameters(), strict=True):
        assert torch.equal(a, b)
    torch.testing.assert_close(
        net.transformer.proj_out.weight, stock.proj_out.weight, atol=0, rtol=0
    )


def test_missing_folder_one_line_error(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(PretrainedPathError) as info:
        SanaNetwork(pretrained=str(missing))
    assert str(missing) in str(info.value) and "\n" not in str(info.value)


def test_guidance_embeds_refused():
    with pytest.raises(ValueError, match="guidance_embeds"):
        SanaTwinTransformer(**TINY_SANA_CONFIG, guidance_embeds=True)


def test_objective_steps_reduce_loss():
    torch.manual_seed(0)
    net = SanaNetwork()
    x, _, cond = _inputs(1)
    x = torch.cat([x, x, x, x])
    cond = Conditioning.cat([cond] * 4)
    obj = TwinFlowObjective()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    losses = []
    for _ in range(8):
        torch.manual_seed(123)  # same times and noise every step: a fixed tiny problem
        loss = obj(net, x, cond).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3, losses
