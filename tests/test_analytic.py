"""Exact checks against the closed-form Gaussian field (DESIGN.md §7)."""

import math

import pytest
import torch

from twinflow.networks.analytic import GaussianFlowField, GaussianMixtureVelocity
from twinflow.objective import (
    BatchPartition,
    RCGMTarget,
    RectifyTarget,
    TimeSampler,
    TwinFlowObjective,
)
from twinflow.sampling import AnyStepSampler, TimeGrid

MU = torch.tensor([1.5, -0.5, 0.25, 2.0])
SIGMA = 0.5


@pytest.fixture
def field() -> GaussianFlowField:
    return GaussianFlowField(MU, SIGMA)


def data(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return MU + SIGMA * torch.randn(n, MU.numel(), generator=g)


def irreducible(t: float) -> float:
    """Per-dimension Var(z - x | x_t) = (1 + s^2) - (t - (1 - t) s^2)^2 / s_t^2."""
    s2 = SIGMA**2
    st2 = t**2 + (1 - t) ** 2 * s2
    return (1 + s2) - (t - (1 - t) * s2) ** 2 / st2


def test_average_velocity_tends_to_instantaneous(field):
    field = field.double()
    x = torch.randn(64, 4, dtype=torch.float64)
    t = torch.full((64,), 0.6, dtype=torch.float64)
    inst = field.instantaneous(x, t)
    errors = [(field(x, t, t - gap) - inst).abs().max().item() for gap in (1e-2, 1e-3)]
    assert errors[1] < 1e-2 and errors[1] < errors[0] / 5  # O(t - r) convergence
    assert torch.equal(field(x, t, t), inst)


def test_flow_map_transports_the_marginal(field):
    x = data(200_000)
    z = torch.randn_like(x)
    t = torch.full((x.shape[0],), 0.8)
    x_t = 0.8 * z + 0.2 * x
    x_r = field.flow_map(x_t, t, torch.full_like(t, 0.3))
    # x_r must be distributed as the marginal at r = 0.3.
    assert torch.allclose(x_r.mean(0), 0.7 * MU, atol=0.01)
    assert torch.allclose(
        x_r.std(0), torch.full((4,), math.sqrt(0.09 + 0.49 * SIGMA**2)), atol=0.01
    )


@pytest.mark.parametrize("t", [0.1, 0.5, 0.9])
def test_flow_matching_loss_is_at_its_irreducible_value(field, t):
    x = data(200_000, seed=1)
    z = torch.randn_like(x)
    tt = torch.full((x.shape[0],), t)
    x_t = t * z + (1 - t) * x
    loss = (field(x_t, tt, tt) - (z - x)).pow(2).mean()
    assert loss.item() == pytest.approx(irreducible(t), rel=0.01)
    worse = (field(x_t, tt, tt) + 0.1 - (z - x)).pow(2).mean()
    assert worse.item() == pytest.approx(loss.item() + 0.01, rel=0.01)


def test_objective_flow_matching_setting_matches_the_integral(field):
    objective = TwinFlowObjective(
        partition=BatchPartition(e2e=0, mul=1, any=0, adv=0, mul_window=0),
        time_sampler=TimeSampler(eps=1e-6),
        rcgm=RCGMTarget(order=0),
        rectify_weight=0,
        time_weighting=False,
        cond_dropout=0,
    )
    torch.manual_seed(0)
    terms = objective(field, data(400_000, seed=2))
    grid = torch.linspace(0, 1, 10_001)[1:-1]
    expected = sum(irreducible(float(t)) for t in grid) / len(grid)
    assert terms.loss.item() == pytest.approx(expected, rel=0.01)
    assert terms.adv.item() == 0 and terms.rectify.item() == 0


@pytest.mark.parametrize("order", [1, 2, 4])
def test_rcgm_residual_vanishes_for_the_exact_field(field, order):
    n = 4096
    x, z = data(n, seed=3), torch.randn(n, 4)
    t = torch.rand(n) * 0.98 + 0.02
    r = t * torch.rand(n)
    x_t = t[:, None] * z + (1 - t[:, None]) * x
    f = field(x_t, t, r)
    delta = 0.01
    target = RCGMTarget(order=order, delta=delta, clamp=10.0)(
        field, x_t, t, r, field.instantaneous(x_t, t), f, None
    )
    residual = f - target
    assert residual.abs().max().item() < 20 * delta
    # Halving D halves the residual: it is O(D), not a constant offset.
    half = RCGMTarget(order=order, delta=delta / 2, clamp=10.0)(
        field, x_t, t, r, field.instantaneous(x_t, t), f, None
    )
    ratio = (f - half).abs().mean() / residual.abs().mean()
    assert 0.4 < ratio.item() < 0.6


def test_one_nfe_sampling_reproduces_the_data_distribution(field):
    sampler = AnyStepSampler(style="few", steps=1, grid=TimeGrid(gaps=(0.0, 0.0)))
    z = torch.randn(200_000, 4, generator=torch.Generator().manual_seed(4))
    x = sampler.sample(field, z)
    assert torch.allclose(x, MU + SIGMA * z, atol=1e-5)
    assert torch.allclose(x.std(0), torch.full((4,), SIGMA), atol=0.005)


@pytest.mark.parametrize("style,steps,noise", [("few", 2, 1.0), ("any", 4, 0.0), ("mul", 200, 0.0)])
def test_multi_step_sampling_reproduces_the_data_distribution(field, style, steps, noise):
    # 'few' re-noises with fresh noise (s = 1): its z_hat is not on the ODE path.
    sampler = AnyStepSampler(style=style, steps=steps, stochastic_ratio=noise)
    z = torch.randn(100_000, 4, generator=torch.Generator().manual_seed(5))
    x = sampler.sample(field, z)
    assert torch.allclose(x.mean(0), MU, atol=0.02)
    assert torch.allclose(x.std(0), torch.full((4,), SIGMA), atol=0.02)


def test_rectify_update_vanishes_when_fake_equals_real(field):
    z = torch.randn(512, 4)
    ones = torch.ones(512)
    f_gen = field(z, ones, torch.zeros_like(ones))
    target = RectifyTarget(clamp=None)(field, z, f_gen, None)
    assert torch.allclose(target, f_gen, atol=1e-5)


def test_full_twinflow_objective_is_finite_and_rectify_is_zero_at_optimum(field):
    objective = TwinFlowObjective(cond_dropout=0)
    terms = objective(field, data(1024))
    assert all(torch.isfinite(v) for v in terms.as_dict().values())
    assert terms.rectify.item() < 1e-8
    assert terms.counts == {"e2e": 256, "mul": 256, "any": 256, "adv": 256}


def test_mixture_velocity_matches_single_gaussian_limit():
    single = GaussianFlowField(torch.tensor([1.0, -2.0]), 0.3)
    mix = GaussianMixtureVelocity(
        torch.tensor([[1.0, -2.0], [1.0, -2.0]]), torch.tensor([0.3, 0.3])
    )
    x, t = torch.randn(128, 2), torch.rand(128)
    assert torch.allclose(mix(x, t), single.instantaneous(x, t), atol=1e-5)
