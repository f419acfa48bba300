"""Scoring a finished digits run: sample files per NFE and the summary table."""

from __future__ import annotations

from pathlib import Path

from twinflow.callbacks.digit_quality import digit_prompts
from twinflow.judge.metrics import DigitJudge
from twinflow.viz import image_grid, save_png, save_samples


def _sample(module, nfe: int, per_digit: int, seed: int, style: str | None):
    prompts, labels = digit_prompts(per_digit)
    return module.generate(prompts, nfe=nfe, seed=seed, style=style), prompts, labels


def evaluate_run(
    final: Path,
    pretrained: Path,
    out: Path,
    per_digit: int = 100,
    multi_nfes: list[int] = (16, 32, 64),
    nfes: list[int] = (1, 2, 4),
    seed: int = 2024,
) -> dict:
    """Write ``samples_nfe{n}.npz`` (final model) and ``samples_multi.npz`` (original model at
    its best multi-step NFE, chosen by FD on a separate seed and a fifth of the samples) into
    ``out``; return the scores."""
    from twinflow.export import load_module

    judge = DigitJudge()
    rows: dict[str, dict] = {}
    model = load_module(final)
    for nfe in nfes:
        images, prompts, labels = _sample(model, nfe, per_digit, seed, None)
        save_samples(out / f"samples_nfe{nfe}.npz", images, prompts, labels)
        save_png(
            image_grid(images[:: per_digit // 10 or 1][:100], rows=10), out / f"grid_nfe{nfe}.png"
        )
        rows[f"{nfe} NFE"] = judge.score(images, labels).as_dict() | {"nfe": nfe}
    original = load_module(pretrained)
    # Pick the original model's best multi-step NFE on a selection seed, then score afresh.
    choice = {}
    for nfe in multi_nfes:
        images, _, labels = _sample(original, nfe, max(10, per_digit // 5), seed + 1, "mul")
        choice[nfe] = judge.score(images, labels).fd
    best = min(choice, key=choice.get)
    images, prompts, labels = _sample(original, best, per_digit, seed, "mul")
    save_samples(out / "samples_multi.npz", images, prompts, labels)
    save_png(image_grid(images[:: per_digit // 10 or 1][:100], rows=10), out / "grid_multi.png")
    rows[f"original, {best} NFE"] = judge.score(images, labels).as_dict() | {"nfe": best}
    reference = rows[f"original, {best} NFE"]["fd"]
    for row in rows.values():
        row["fd_ratio"] = row["fd"] / reference
    return {
        "rows": rows,
        "multi_step_selection_fd": {str(k): v for k, v in choice.items()},
        "per_digit": per_digit,
    }


def format_table(summary: dict) -> str:
    lines = ["| sampler | accuracy | FD | FD / original | diversity |", "|---|---|---|---|---|"]
    for name, r in summary["rows"].items():
        lines.append(
            f"| {name} | {r['accuracy']:.3f} | {r['fd']:.1f} | {r['fd_ratio']:.2f} "
            f"| {r['diversity']:.2f} |"
        )
    return "\n".join(lines)


__all__ = ["evaluate_run", "format_table"]
