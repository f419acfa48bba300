"""``twinflow sample``: checkpoint + prompts + NFE + seed + count -> PNG grid and samples.npz.

``samples.npz`` holds ``images`` (uint8 N×H×W×C), ``prompts`` (str) and, for the digit
defaults, ``labels`` (int).  Output is deterministic for a fixed seed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from twinflow.console import OneLineParser
from twinflow.judge.protocol import digit_prompts
from twinflow.sampling.presets import STYLES
from twinflow.viz import image_grid, save_png, save_samples


def read_prompts(path: Path) -> list[str]:
    if not path.is_file():
        raise SystemExit(f"error: prompt file not found: {path} (one prompt per line)")
    prompts = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not prompts:
        raise SystemExit(f"error: prompt file {path} has no prompts (one prompt per line)")
    return prompts


MAX_SAMPLES = 100_000  # one call holds every image in memory before writing samples.npz


def check_out_dir(out: Path) -> None:
    """Refuse (one line) an ``--out`` that cannot take the files, before anything is generated."""
    if out.exists() and not out.is_dir():
        raise SystemExit(f"error: --out {out} is a file; give a folder (it is created if missing)")
    from twinflow.input_checks import ensure_writable_folder

    ensure_writable_folder(out, "--out")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = OneLineParser(prog="twinflow sample", description=__doc__)
    p.add_argument("model", type=Path, help="a twinflow .ckpt or an export folder")
    p.add_argument("--prompts", nargs="+", help="prompts (default: the ten digit prompts)")
    p.add_argument("--prompts-file", type=Path, help="a text file, one prompt per line")
    p.add_argument("--nfe", type=int, default=1, help="network calls per sample (default 1)")
    p.add_argument("--style", choices=STYLES, help="sampler style (default: by NFE)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--count", type=int, default=8, help="samples per prompt (default 8)")
    p.add_argument("--out", type=Path, default=Path("samples"), help="output folder")
    args = p.parse_args(argv)
    if args.nfe < 1 or args.count < 1:
        p.error("--nfe and --count must be >= 1")
    return args


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    check_out_dir(args.out)
    from twinflow.export import load_module
    from twinflow.weights import CheckpointError

    prompts: list[str] | None = None
    if args.prompts_file:
        prompts = read_prompts(args.prompts_file)
    elif args.prompts:
        prompts = list(args.prompts)
    total = args.count * (len(prompts) if prompts else 10)  # the digit default: 10 prompts
    if total > MAX_SAMPLES:
        raise SystemExit(f"error: {total:,} samples asked (--count x prompts); at most "
                         f"{MAX_SAMPLES:,} per call, all held in memory: run several calls "
                         "with other --seed values")
    try:
        module = load_module(args.model)
    except CheckpointError as err:
        raise SystemExit(f"error: {err}") from None
    labels = None
    if module.conditioner is None:
        rows, prompts = None, [""] * args.count
    elif prompts is None:
        rows, labels = digit_prompts(args.count, digit_major=True)  # one grid row per digit
        prompts = rows
    else:
        rows = [p for p in prompts for _ in range(args.count)]
        prompts = rows
    images = module.generate(
        rows, nfe=args.nfe, seed=args.seed, count=len(prompts), style=args.style
    )
    if images.dtype != np.uint8:
        raise SystemExit("error: this model does not produce images (a toy?); nothing to save")
    args.out.mkdir(parents=True, exist_ok=True)
    n_rows = max(1, len(prompts) // args.count)
    grid = save_png(image_grid(images, rows=n_rows), args.out / f"grid_nfe{args.nfe}.png")
    npz = save_samples(args.out / "samples.npz", images, prompts, labels)
    print(f"wrote {len(images)} samples: {grid} and {npz}")
