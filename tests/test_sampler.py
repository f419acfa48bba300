"""The any-step sampler: time grids, one network call per NFE, styles and determinism."""

import pytest
import torch

from twinflow.networks.analytic import GaussianFlowField
from twinflow.sampling import AnyStepSampler, TimeGrid, kumaraswamy
from twinflow.sampling.presets import sampler_for


class Counter(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.calls = []

    def forward(self, x, t, r, cond=None):
        self.calls.append((float(t[0]), float(r[0])))
        return torch.zeros_like(x)


def test_reference_grids():
    assert torch.allclose(TimeGrid(gaps=(0.001, 0.7))(2), torch.tensor([0.999, 0.7, 0.0]))
    assert torch.allclose(TimeGrid(gaps=(0.001, 0.7))(1), torch.tensor([0.999, 0.0]))
    assert torch.allclose(TimeGrid()(4), torch.tensor([1.0, 0.75, 0.5, 0.25, 0.0]))
    warped = TimeGrid(warp=(1.17, 0.8, 1.1))(30)
    assert warped[0] == 1 and warped[-1] == 0 and torch.all(warped[1:] < warped[:-1])


def test_kumaraswamy_fixes_endpoints():
    u = torch.tensor([0.0, 1.0])
    assert torch.allclose(kumaraswamy(u, 1.17, 0.8, 1.1), u)


@pytest.mark.parametrize(
    "style,steps,order,nfe",
    [
        ("few", 1, 1, 1),
        ("few", 2, 1, 2),
        ("any", 4, 1, 4),
        ("mul", 30, 1, 30),
        ("mul", 5, 2, 10),
        ("few", 3, 2, 6),
    ],
)
def test_exactly_one_network_call_per_nfe(style, steps, order, nfe):
    net = Counter()
    sampler = AnyStepSampler(style=style, steps=steps, order=order)
    sampler.sample(net, torch.randn(3, 2))
    assert len(net.calls) == sampler.nfe == nfe


def test_target_times_per_style():
    for style, expected in (("few", [0.0, 0.0]), ("any", [0.5, 0.0]), ("mul", [1.0, 0.5])):
        net = Counter()
        AnyStepSampler(style=style, steps=2).sample(net, torch.randn(1, 2))
        assert [r for _, r in net.calls] == expected


def test_invalid_settings_fail_clearly():
    with pytest.raises(ValueError, match="style"):
        AnyStepSampler(style="fast")
    with pytest.raises(ValueError, match="Heun"):
        AnyStepSampler(style="any", order=2)
    with pytest.raises(ValueError, match="gaps"):
        TimeGrid(gaps=(0.6, 0.5))


def test_stochastic_sampling_is_deterministic_for_a_generator():
    field = GaussianFlowField(torch.zeros(2), 0.5)
    sampler = AnyStepSampler(style="few", steps=2, stochastic_ratio=1.0)
    z = torch.randn(5, 2)
    a = sampler.sample(field, z, generator=torch.Generator().manual_seed(3))
    b = sampler.sample(field, z, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_heun_is_more_accurate_than_euler_for_multi_step():
    field = GaussianFlowField(torch.tensor([2.0, -1.0]), 0.3)
    z = torch.randn(4096, 2, generator=torch.Generator().manual_seed(0))
    exact = torch.tensor([2.0, -1.0]) + 0.3 * z
    euler = AnyStepSampler(style="mul", steps=10).sample(field, z)
    heun = AnyStepSampler(style="mul", steps=5, order=2).sample(field, z)  # same 10 NFE
    assert (heun - exact).abs().mean() < 0.5 * (euler - exact).abs().mean()


def test_presets_follow_the_reference_settings():
    one = sampler_for(1)
    assert one.style == "few" and one.steps == 1
    assert sampler_for(4).style == "any"
    assert sampler_for(32).style == "mul" and sampler_for(32).grid.warp == (1.17, 0.8, 1.1)
