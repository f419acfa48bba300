"""Plots for 2-D toys: samples at a few NFEs against the data, and real vs twin trajectories.

The real trajectory integrates ``F(x, t, t)`` from noise at ``t = 1`` to 0; the twin (fake)
trajectory integrates ``F(x, -t, -t)`` from the same noise.  Once the twin flow has learnt
the generator's own distribution and the generator matches the data, the two coincide.
"""

from __future__ import annotations

import lightning as L
import numpy as np
import torch

from twinflow.callbacks.mlflow_images import log_artifact, run_dir


@torch.no_grad()
def trajectory(net, noise: torch.Tensor, steps: int = 64, twin: bool = False) -> np.ndarray:
    """``(steps + 1, N, 2)`` Euler path of the instantaneous velocity from ``t = 1`` to 0."""
    sign = -1.0 if twin else 1.0
    ts = torch.linspace(1, 0, steps + 1)
    x, path = noise, [noise]
    for t, t_next in zip(ts[:-1], ts[1:]):
        tt = torch.full((len(x),), float(t)) * sign
        x = x - (t - t_next) * net(x, tt, tt, None)
        path.append(x)
    return torch.stack(path).numpy()


def plot_toy(net, data: np.ndarray, samples: dict[int, np.ndarray], path, seed: int = 0) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(samples) + 1, figsize=(4 * (len(samples) + 1), 4))
    for ax, (nfe, pts) in zip(axes, samples.items()):
        ax.scatter(data[:, 0], data[:, 1], s=2, c="lightgray", label="data")
        ax.scatter(pts[:, 0], pts[:, 1], s=2, c="tab:blue", label=f"{nfe} NFE")
        ax.set_title(f"samples, {nfe} NFE")
        ax.set_aspect("equal")
    noise = torch.randn(24, 2, generator=torch.Generator().manual_seed(seed))
    ax = axes[-1]
    ax.scatter(data[:, 0], data[:, 1], s=2, c="lightgray")
    for twin, colour in ((False, "tab:green"), (True, "tab:red")):
        paths = trajectory(net, noise, twin=twin)
        for k in range(paths.shape[1]):
            ax.plot(
                paths[:, k, 0],
                paths[:, k, 1],
                c=colour,
                lw=0.8,
                alpha=0.8,
                label=("twin (fake) flow" if twin else "real flow") if k == 0 else None,
            )
    ax.set_title("real vs twin trajectories")
    ax.set_aspect("equal")
    ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


class ToyPlots(L.Callback):
    """At each validation (and at the end of fit), save ``toy_step{k}.png`` in the run folder."""

    def __init__(self, nfes: list[int] = (1, 2, 4), count: int = 2000, seed: int = 0) -> None:
        self.nfes, self.count, self.seed = list(nfes), count, seed

    def render(self, trainer: L.Trainer, pl_module) -> None:
        if not trainer.is_global_zero or pl_module.codec.is_image:
            return
        data = trainer.datamodule.val_points.numpy()
        samples = {
            n: pl_module.generate(None, nfe=n, seed=self.seed, count=self.count) for n in self.nfes
        }
        out = run_dir(trainer) / "plots" / f"toy_step{trainer.global_step:06d}.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        plot_toy(pl_module.sampling_network, data, samples, out, self.seed)
        log_artifact(trainer, out, "plots")

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            self.render(trainer, pl_module)
