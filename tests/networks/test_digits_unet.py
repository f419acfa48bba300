"""The digits U-Net: its written-out attention against torch's, shapes, zero start."""

from __future__ import annotations

import pytest
import torch

from twinflow.networks import DigitsUNet
from twinflow.networks.contract import Conditioning
from twinflow.networks.digits_unet import SelfAttention


def test_attention_equals_torch_multihead_attention_in_values_and_gradients():
    torch.manual_seed(0)
    layer = SelfAttention(32, heads=4)
    x = torch.randn(3, 32, 5, 7, requires_grad=True)
    ours = layer(x)
    (g_ours,) = torch.autograd.grad(ours.square().sum(), x)

    seq = layer.norm(x).flatten(2).transpose(1, 2)
    out, _ = torch.nn.MultiheadAttention.forward(layer.attn, seq, seq, seq, need_weights=False)
    ref = x + out.transpose(1, 2).reshape(x.shape)
    (g_ref,) = torch.autograd.grad(ref.square().sum(), x)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(g_ours, g_ref, rtol=1e-4, atol=1e-4)
    # the check can fail: other weights give other outputs
    torch.nn.init.normal_(layer.attn.in_proj_weight)
    assert not torch.allclose(layer(x), ours, atol=1e-3)


def test_attention_loads_a_state_dict_of_torch_multihead_attention():
    torch.manual_seed(0)
    stock = torch.nn.MultiheadAttention(16, 4, batch_first=True)
    ours = SelfAttention(16).attn
    ours.load_state_dict(stock.state_dict())  # strict: the same keys and shapes
    seq = torch.randn(2, 9, 16)
    torch.testing.assert_close(ours(seq), stock(seq, seq, seq, need_weights=False)[0])


def test_attention_refuses_channels_that_do_not_split_into_heads():
    with pytest.raises(ValueError, match="heads"):
        SelfAttention(24, heads=5)


def test_unet_shape_and_zero_velocity_at_start():
    net = DigitsUNet(widths=(16, 32), patch=2, cond_dim=8, emb_dim=16)
    x = torch.randn(2, 1, 28, 28)
    v = net(x, torch.rand(2), torch.rand(2), Conditioning(torch.randn(2, 8)))
    assert v.shape == x.shape
    assert torch.count_nonzero(v) == 0


@pytest.mark.parametrize("patch", [1, 2])
def test_channels_last_activations_equal_the_default_layout_in_values_and_gradients(patch):
    torch.manual_seed(0)
    nets = [DigitsUNet(widths=(16, 32), patch=patch, cond_dim=8, emb_dim=16, channels_last=cl)
            for cl in (False, True)]
    with torch.no_grad():  # the zero-initialised layers get weights, so gradients flow
        for p in nets[0].parameters():
            p.add_(0.1 * torch.randn_like(p))
    nets[1].load_state_dict(nets[0].state_dict())
    x, t, r, c = torch.randn(3, 1, 28, 28), torch.rand(3), torch.rand(3), torch.randn(3, 8)
    layouts = []
    for net in nets:
        net.mid1.register_forward_hook(lambda m, args, out: layouts.append(
            out.is_contiguous(memory_format=torch.channels_last) and not out.is_contiguous()))
    outs = [net(x, t, r, Conditioning(c)) for net in nets]
    assert layouts == [False, True]  # the bottleneck's activations are channels-last
    assert outs[0].is_contiguous() and outs[1].is_contiguous()
    assert outs[0].abs().mean() > 0.01
    torch.testing.assert_close(outs[1], outs[0], rtol=1e-4, atol=1e-5)
    for out in outs:
        out.square().sum().backward()
    for (name, a), b in zip(nets[0].named_parameters(), nets[1].parameters()):
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-4, atol=1e-4, msg=name)
    assert all(p.is_contiguous() for p in nets[1].parameters())  # weights keep their layout


def test_second_time_embedding_starts_as_a_separate_equal_copy():
    from twinflow.networks.time_embedding import TimeEmbedding, TwoTimeEmbedding

    torch.manual_seed(3)
    two = TwoTimeEmbedding(16, freq_dim=8)
    after = torch.rand(4)
    torch.manual_seed(3)
    TimeEmbedding(16, freq_dim=8)  # a deep copy consumed no random numbers: neither may emb2
    assert torch.equal(after, torch.rand(4))
    for a, b in zip(two.emb.parameters(), two.emb2.parameters(), strict=True):
        assert torch.equal(a, b) and a.data_ptr() != b.data_ptr()
