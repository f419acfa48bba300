"""Default sampler settings per NFE (docs/METHOD.md §3, tuned on the digits default).

* 1 NFE: one jump from ``t = 0.999`` to 0 (``few``).
* 2-8 NFE: ``any`` style (target time = next grid time), gaps ``(0.001, 0.5)``; on the digits
  default this beat ``few`` (``r = 0`` at every step), which made 2-4 NFE worse than 1.
* multi-step (the original flow-matching model): ``mul`` with the Kumaraswamy warp
  ``(1.17, 0.8, 1.1)``.
"""

from __future__ import annotations

from twinflow.sampling.sampler import AnyStepSampler
from twinflow.sampling.time_grid import TimeGrid

STYLES = ("few", "any", "mul")


def sampler_for(
    nfe: int, style: str | None = None, stochastic_ratio: float | None = None
) -> AnyStepSampler:
    """The default :class:`AnyStepSampler` for ``nfe`` network calls (or a forced style)."""
    if nfe < 1:
        raise ValueError(f"nfe must be >= 1, got {nfe}")
    if style is None:
        style = "few" if nfe == 1 else ("any" if nfe <= 8 else "mul")
    if style not in STYLES:
        raise ValueError(f"sampler style {style!r}: use one of {STYLES}")
    if style == "few":
        grid = TimeGrid(gaps=(0.001, 0.7))
        ratio = 1.0
    elif style == "any":
        grid = TimeGrid(gaps=(0.001, 0.5)) if nfe > 1 else TimeGrid(gaps=(0.001, 0.7))
        ratio = 0.0
    else:
        grid = TimeGrid(gaps=(0.001, 0.0), warp=(1.17, 0.8, 1.1))
        ratio = 0.0
    if stochastic_ratio is not None:
        ratio = stochastic_ratio
    return AnyStepSampler(style=style, steps=nfe, stochastic_ratio=ratio, grid=grid)
