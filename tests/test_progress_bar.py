"""The training bar of a step-driven fit reads ``Train step k/max_steps`` (no epoch total)."""

from __future__ import annotations

from rich.console import Console

from tests.helpers import run_cli, toy_config
from twinflow.callbacks.progress import StepProgressBar


def _rendered(cli) -> str:
    bar = cli.trainer.progress_bar_callback
    assert isinstance(bar, StepProgressBar)  # replaced Lightning's default bar
    console = Console(record=True, width=160, force_terminal=False, color_system=None)
    console.print(bar.progress)
    return console.export_text()


def test_a_fit_and_its_resume_show_steps_of_max_steps(tmp_path):
    first = run_cli("fit", "--config", str(toy_config(tmp_path / "a", steps=3, ckpt_every=2)),
                    "--trainer.enable_progress_bar", "true")
    text = _rendered(first)
    assert "Train step" in text and " 3/3 " in text and "train/loss" in text, text
    assert "Epoch" not in text and "-2" not in text, text
    # a resume starts at its step and counts on to max_steps, across epoch boundaries
    ckpt = tmp_path / "a" / "checkpoints" / "step=2.ckpt"
    resumed = run_cli("fit", "--config", str(toy_config(tmp_path / "b", steps=40, ckpt_every=50)),
                      "--trainer.enable_progress_bar", "true", "--ckpt_path", str(ckpt))
    bar = resumed.trainer.progress_bar_callback
    task = bar.progress.tasks[bar.train_progress_bar_id]
    assert (task.completed, task.total) == (40, 40)  # 8192 / 256 = 32 batches an epoch
    text = _rendered(resumed)
    assert " 40/40 " in text and "Epoch" not in text, text
