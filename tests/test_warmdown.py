"""The linear learning-rate warm-down: exact factors, and the rates an optimizer sees."""

from __future__ import annotations

import pytest
import torch

from twinflow.warmdown import LinearWarmdown


def test_factors_are_one_then_linear_to_zero_at_the_last_step():
    f = LinearWarmdown(total_steps=10, share=0.3)  # decay starts at step 7
    assert [f(k) for k in range(11)] == [1, 1, 1, 1, 1, 1, 1, 1.0, 2 / 3, 1 / 3, 0.0]
    assert [LinearWarmdown(4, 1.0)(k) for k in range(5)] == [1.0, 0.75, 0.5, 0.25, 0.0]
    assert all(LinearWarmdown(5, 0.0)(k) == 1.0 for k in range(5))


def test_an_optimizer_steps_through_the_scheduled_rates():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.5)
    sched = LinearWarmdown(total_steps=4, share=0.5).scheduler(opt)
    seen = []
    for _ in range(4):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == pytest.approx([0.5, 0.5, 0.5, 0.25])


@pytest.mark.parametrize(("total", "share", "word"), [(-1, 0.3, "max_steps"),
                                                      (0, 0.3, "max_steps"),
                                                      (10, 1.5, "lr_warmdown")])
def test_bad_settings_name_the_option(total, share, word):
    with pytest.raises(ValueError, match=word):
        LinearWarmdown(total, share)


def test_a_fit_with_lr_warmdown_ends_at_rate_zero(tmp_path):
    from tests.helpers import toy_config
    from twinflow.lightning_cli import TwinFlowCLI

    cli = TwinFlowCLI(args=["--config", str(toy_config(tmp_path, steps=4, ema=None, lr=0.01)),
                            "--model.lr_warmdown", "0.5"], run=False)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    (optimizer,) = cli.trainer.optimizers
    (scheduler,) = [c.scheduler for c in cli.trainer.lr_scheduler_configs]
    rates = [0.01 * scheduler.lr_lambdas[0](k) for k in range(4)]
    assert rates == pytest.approx([0.01, 0.01, 0.01, 0.005])
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.0)  # after the last step
