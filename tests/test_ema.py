"""EMA averages trainable weights only and shares frozen ones with the online network."""

import torch
from torch import nn

from twinflow.ema import EMA


def frozen_base_with_adapter() -> nn.Module:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4))
    net[0].requires_grad_(False)  # the "base": frozen
    return net


def test_frozen_weights_are_shared_not_copied():
    net = frozen_base_with_adapter()
    ema = EMA(net, 0.5, warmup=False)
    assert ema.shadow[0].weight is net[0].weight
    assert ema.shadow[1].weight is not net[1].weight
    keys = set(ema.state_dict())
    assert "shadow.1.weight" in keys and "shadow.0.weight" not in keys


def test_update_averages_the_trainable_weights():
    net = frozen_base_with_adapter()
    ema = EMA(net, 0.5, warmup=False)
    old = net[1].weight.detach().clone()
    with torch.no_grad():
        net[1].weight.add_(2.0)
    ema.update(net)
    torch.testing.assert_close(ema.shadow[1].weight, old + 1.0)
    torch.testing.assert_close(ema.shadow[0].weight, net[0].weight)


def test_state_dict_round_trip_without_the_shared_weights():
    net = frozen_base_with_adapter()
    ema = EMA(net, 0.5, warmup=False)
    with torch.no_grad():
        ema.shadow[1].weight.fill_(3.0)
    state = ema.state_dict()
    other = EMA(frozen_base_with_adapter(), 0.5, warmup=False)
    result = other.load_state_dict(state)  # strict: shared weights may be absent
    assert not result.missing_keys and not result.unexpected_keys
    torch.testing.assert_close(other.shadow[1].weight, torch.full((4, 4), 3.0))
