"""Shapes, signs, time conventions and edge cases of the objective and its parts."""

import math

import pytest
import torch

from twinflow.ema import EMA
from twinflow.networks.contract import Conditioning
from twinflow.objective import (
    BatchPartition,
    GuidedVelocity,
    LossMetric,
    RCGMTarget,
    TimeSampler,
    TwinFlowObjective,
)
from twinflow.objective.objective import time_weight
from twinflow.path import estimates, interpolate, score


class Recorder(torch.nn.Module):
    """A linear velocity field that records every call's times."""

    def __init__(self, dim: int = 3) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(dim, dim)
        self.calls: list[tuple[torch.Tensor, torch.Tensor]] = []

    def forward(self, x, t, r, cond=None):
        self.calls.append((t.detach().clone(), r.detach().clone()))
        return self.lin(x) + (t - r)[:, None]


def test_interpolation_convention_t1_is_noise():
    x, z = torch.zeros(2, 3), torch.ones(2, 3)
    assert torch.equal(
        interpolate(x, z, torch.tensor([1.0, 0.0])), torch.tensor([[1.0] * 3, [0.0] * 3])
    )
    # twin (negative) times use |t|
    assert torch.equal(interpolate(x, z, torch.tensor([-0.25, 0.25]))[0], torch.full((3,), 0.25))


def test_estimates_recover_data_and_noise_from_the_true_velocity():
    x, z = torch.randn(4, 3), torch.randn(4, 3)
    t = torch.rand(4)
    est = estimates(interpolate(x, z, t), t, z - x)
    assert torch.allclose(est.x_hat, x, atol=1e-6) and torch.allclose(est.z_hat, z, atol=1e-6)
    assert torch.allclose(est.at(t), interpolate(x, z, t), atol=1e-6)
    assert torch.isfinite(score(x, torch.zeros(4), z - x)).all()


def test_partition_counts_and_group_times():
    part = BatchPartition(e2e=1, mul=1, any=1, adv=1)
    assert part.counts(10) == {"e2e": 3, "mul": 3, "any": 2, "adv": 2}
    times = part.sample(64, TimeSampler(), "cpu")
    e2e, mul, any_, adv = (times.slice(g) for g in ("e2e", "mul", "any", "adv"))
    assert torch.all(times.t[e2e] == 1) and torch.all(times.r[e2e] == 0)
    assert torch.all(times.r[mul] <= times.t[mul]) and torch.all(
        times.r[mul] >= 0.95 * times.t[mul]
    )
    assert torch.all(times.r[any_] <= times.t[any_]) and torch.all(times.r[any_] >= 0)
    assert torch.equal(times.r[adv], times.t[adv])
    with pytest.raises(ValueError, match="shares"):
        BatchPartition(e2e=-1)


def test_objective_negates_times_only_for_the_adv_group():
    net = Recorder()
    TwinFlowObjective(cond_dropout=0, rcgm=RCGMTarget(order=0), rectify_weight=0)(
        net, torch.randn(8, 3)
    )
    # calls: one-step fakes (t = 1, r = 0), then the grad forward on the whole batch
    t_fake, r_fake = net.calls[0]
    assert torch.all(t_fake == 1) and torch.all(r_fake == 0)
    t, r = net.calls[1]
    assert torch.all(t[:6] > 0) and torch.all(t[6:] < 0) and torch.equal(t[6:], r[6:])


def test_adv_rows_draw_their_times_from_their_own_sampler():
    part = BatchPartition(e2e=1, mul=1, any=1, adv=1)
    low = TimeSampler(kind="beta", time_dist_ctrl=(1.0, 50.0))  # mean 1/51: near the data
    torch.manual_seed(0)
    shared = part.sample(400, TimeSampler(), "cpu")
    torch.manual_seed(0)
    same = part.sample(400, TimeSampler(), "cpu", adv_sampler=None)
    assert torch.equal(shared.t, same.t) and torch.equal(shared.r, same.r)  # None: unchanged
    torch.manual_seed(0)
    own = part.sample(400, TimeSampler(), "cpu", adv_sampler=low)
    adv, rest = own.slice("adv"), slice(0, own.slice("adv").start)
    assert torch.equal(own.t[rest], shared.t[rest])  # the other groups' draws are untouched
    assert own.t[adv].mean() < 0.05 < shared.t[adv].mean()
    assert torch.equal(own.r[adv], own.t[adv])
    # the objective hands its adv sampler to the draws: the grad call sees -t' near 0
    net = Recorder()
    TwinFlowObjective(cond_dropout=0, rcgm=RCGMTarget(order=0), rectify_weight=0,
                      adv_time_sampler=low)(net, torch.randn(64, 3))
    t, _ = net.calls[1]
    assert t[48:].max() < 0 and t[48:].mean() > -0.05


def test_objective_returns_each_term_and_gradients_flow():
    net = Recorder()
    terms = TwinFlowObjective(cond_dropout=0)(net, torch.randn(16, 3))
    assert set(terms.as_dict()) == {"loss", "L_base", "L_adv", "L_rectify"}
    assert terms.loss.requires_grad and not terms.base.requires_grad
    terms.loss.backward()
    assert net.lin.weight.grad is not None and torch.isfinite(net.lin.weight.grad).all()


@pytest.mark.parametrize("t_value", [0.0, 1e-8, 1.0])
def test_no_nan_when_r_equals_t_or_t_is_zero(t_value):
    net = Recorder()
    t = torch.full((6,), t_value)
    x, v = torch.randn(6, 3), torch.randn(6, 3)
    target = RCGMTarget()(net, x, t, t.clone(), v, net(x, t, t), None)
    assert torch.isfinite(target).all()
    sampler = TimeSampler(eps=0.0)
    assert sampler(100).min() >= 0


def test_rcgm_order_zero_is_flow_matching_target():
    v = torch.randn(5, 3)
    out = RCGMTarget(order=0)(
        Recorder(), torch.randn(5, 3), torch.rand(5), torch.zeros(5), v, torch.randn(5, 3), None
    )
    assert torch.equal(out, v)


def test_rcgm_calls_the_network_order_times_on_long_rows_only():
    net = Recorder()
    t = torch.tensor([0.9, 0.5, 0.3])
    r = torch.tensor([0.1, 0.495, 0.3])  # only the first row has t - r >= D
    x, v = torch.randn(3, 3), torch.randn(3, 3)
    RCGMTarget(order=3)(net, x, t, r, v, torch.zeros(3, 3), None)
    assert len(net.calls) == 3 and all(c[0].shape == (1,) for c in net.calls)
    # sub-steps go from t - D = 0.89 to r = 0.1 in equal parts
    starts = torch.cat([c[0] for c in net.calls])
    assert torch.allclose(starts, torch.tensor([0.89, 0.89 - 0.79 / 3, 0.89 - 2 * 0.79 / 3]))


def test_guidance_adds_scaled_cond_minus_uncond():
    class CondNet(torch.nn.Module):
        def forward(self, x, t, r, cond):
            return x * 0 + cond.embeds[:, :1]

    cond = Conditioning(torch.full((4, 2), 3.0))
    null = Conditioning(torch.full((1, 2), 1.0)).expand_to(4)
    v = torch.zeros(4, 3)
    t = torch.tensor([0.1, 0.4, 0.6, 0.9])
    out = GuidedVelocity(ratio=0.5, t_range=(0.3, 0.7))(
        CondNet(), torch.zeros(4, 3), t, v, cond, null
    )
    assert torch.equal(out[:, 0], torch.tensor([0.0, 1.0, 1.0, 0.0]))


def test_guidance_skips_rows_whose_condition_is_already_null():
    sizes = []

    class CondNet(torch.nn.Module):
        def forward(self, x, t, r, cond):
            sizes.append(len(x))
            return x * 0 + cond.embeds[:, :1]

    null = Conditioning(torch.full((1, 2), 1.0)).expand_to(3)
    cond = Conditioning(torch.tensor([[3.0, 3.0], [1.0, 1.0], [3.0, 3.0]]))  # row 1 dropped
    out = GuidedVelocity(ratio=0.5)(
        CondNet(), torch.zeros(3, 3), torch.rand(3), torch.zeros(3, 3), cond, null
    )
    assert torch.equal(out[:, 0], torch.tensor([1.0, 0.0, 1.0]))
    assert sizes == [4]  # two kept rows, each with and without the condition


def test_bf16_guidance_is_close_to_fp32():
    from twinflow.networks import DigitsUNet

    torch.manual_seed(0)
    net = DigitsUNet(widths=(16, 32), cond_dim=8, emb_dim=16).eval()
    for p in net.parameters():  # a trained-looking net: the zero-initialised output layers too
        torch.nn.init.normal_(p, std=0.2)
    x, t, v = torch.randn(6, 1, 28, 28), torch.rand(6), torch.randn(6, 1, 28, 28)
    cond, null = Conditioning(3 * torch.randn(6, 8)), Conditioning(torch.zeros(1, 8)).expand_to(6)
    fp32 = GuidedVelocity(ratio=0.2)(net, x, t, v, cond, null)
    bf16 = GuidedVelocity(ratio=0.2, precision="bf16")(net, x, t, v, cond, null)
    assert bf16.dtype == torch.float32
    shift = (fp32 - v).abs().mean()
    assert shift > 1e-3  # guidance does change the target here
    assert (bf16 - fp32).abs().mean() < 0.1 * shift  # measured: about 0.035 * shift
    with pytest.raises(ValueError, match="precision"):
        GuidedVelocity(precision="fp16")


def test_barron_metric_matches_its_formula():
    pred, target = torch.zeros(2, 4), torch.tensor([[0.1] * 4, [1.0] * 4])
    mse = torch.tensor([0.01, 1.0])
    c = 1e-3
    w = (mse / c**2 / 1 + 1) ** (-0.5)
    assert torch.allclose(LossMetric("barron", a=1, c=c)(pred, target), mse * w / c)
    assert torch.allclose(LossMetric()(pred, target), mse)


def test_time_weight_values():
    assert time_weight(torch.tensor([1.0]), torch.tensor([0.0])).item() == pytest.approx(1.0)
    expected = math.tan(math.pi / 2.5) + 1
    assert time_weight(torch.tensor([0.5]), torch.tensor([0.5])).item() == pytest.approx(
        expected, rel=1e-5
    )


def test_cond_dropout_uses_the_null_condition():
    obj = TwinFlowObjective(cond_dropout=0.5)
    cond = Conditioning(torch.ones(1000, 2))
    keep = obj.draw(cond.embeds, cond_dropout=True, micro=(0, 1)).keep
    dropped = obj.drop_conditions(cond, Conditioning(torch.zeros(1, 2)), keep)
    share = (dropped.embeds[:, 0] == 0).float().mean().item()
    assert 0.4 < share < 0.6


def test_ema_warmup_and_update():
    net = torch.nn.Linear(2, 2)
    ema = EMA(net, decay=0.99)
    assert ema.current_decay() == pytest.approx(0.1)
    with torch.no_grad():
        net.weight.add_(1.0)
    before = ema.shadow.weight.clone()
    ema.update(net)
    assert torch.allclose(ema.shadow.weight, before + 0.9 * 1.0)
    assert int(ema.updates) == 1
