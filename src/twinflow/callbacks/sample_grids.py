"""Fixed-seed sample grids at several NFEs (plus a multi-step reference) at each validation."""

from __future__ import annotations

import lightning as L

from twinflow.callbacks.mlflow_images import log_image, run_dir
from twinflow.callbacks.ranks import generates_here
from twinflow.data.digits import digit_prompt
from twinflow.viz import image_grid, save_png


class SampleGrids(L.Callback):
    """Renders ``per_prompt`` samples for each prompt at each NFE; saves PNGs and logs them.

    Args:
        nfes: few-step NFEs to render (default 1, 2, 4).
        multi_step_nfe: NFE of the multi-step reference grid (``mul`` style), or 0 to skip.
        prompts: prompts (default: "a handwritten <digit>" for 0-9).
        per_prompt: samples per prompt (one grid row each).
        seed: the fixed seed, so grids compare across steps.
    """

    def __init__(
        self,
        nfes: list[int] = (1, 2, 4),
        multi_step_nfe: int = 32,
        prompts: list[str] | None = None,
        per_prompt: int = 8,
        seed: int = 1234,
    ) -> None:
        self.nfes, self.multi_step_nfe = list(nfes), multi_step_nfe
        self.prompts = prompts or [digit_prompt(d) for d in range(10)]
        self.per_prompt, self.seed = per_prompt, seed

    def render(self, pl_module, nfe: int, style: str | None = None):
        prompts = [p for p in self.prompts for _ in range(self.per_prompt)]
        conditioner = getattr(pl_module, "conditioner", None)
        images = pl_module.generate(
            prompts if conditioner is not None else None,
            nfe=nfe,
            seed=self.seed,
            count=len(prompts),
            style=style,
        )
        return image_grid(images, rows=len(self.prompts))

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module) -> None:
        if trainer.sanity_checking or not pl_module.codec.is_image:
            return
        if not generates_here(trainer, pl_module):
            return
        runs = [(f"nfe{n}", n, None) for n in self.nfes]
        if self.multi_step_nfe:
            runs.append((f"multi{self.multi_step_nfe}", self.multi_step_nfe, "mul"))
        for name, nfe, style in runs:
            grid = self.render(pl_module, nfe, style)
            if not trainer.is_global_zero:
                continue  # this rank only took part in the sharded forward passes
            save_png(
                grid, run_dir(trainer) / "grids" / f"{name}_step{trainer.global_step:06d}.png"
            )
            log_image(trainer, grid, f"grids/{name}", trainer.global_step)
