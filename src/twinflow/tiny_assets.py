"""``twinflow tiny-assets --out DIR``: what the ``experiments/tiny/`` configs read.

Writes ``DIR/sana`` and ``DIR/qwen_image`` (tiny random-init checkpoints in the diffusers
layout, see :mod:`twinflow.tiny_checkpoint`) and ``DIR/images``: coloured-shape images with
``.txt`` captions, square and landscape, plus one corrupt image and one image without a
caption, so that ``twinflow prepare`` shows its skip summary.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from twinflow.console import OneLineParser
from twinflow.data.tiny_images import write_tiny_image_caption_folder
from twinflow.tiny_checkpoint import write_tiny_checkpoint


def write_tiny_images(out: Path, n: int = 40, seed: int = 0) -> Path:
    """``n`` square 32x32 and ``n // 4`` landscape 48x32 pairs, one corrupt, one uncaptioned."""
    write_tiny_image_caption_folder(out, n=n, size=32, seed=seed)
    wide = write_tiny_image_caption_folder(out / "wide", n=max(1, n // 4), size=48, seed=seed + 1)
    for png in sorted(wide.glob("*.png")):  # 48x48 -> 48x32: a landscape bucket
        with Image.open(png) as im:
            im.crop((0, 8, 48, 40)).save(png)
    (out / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")
    (out / "corrupt.txt").write_text("a broken file\n")
    Image.new("RGB", (32, 32), (0, 0, 0)).save(out / "uncaptioned.png")
    return out


def main(argv: list[str]) -> None:
    p = OneLineParser(prog="twinflow tiny-assets", description=__doc__)
    p.add_argument("--out", type=Path, default=Path("runs/tiny"), help="default runs/tiny")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    from twinflow.input_checks import ensure_writable_folder

    if args.out.exists() and not args.out.is_dir():
        p.error(f"--out {args.out} is a file; give a folder for the tiny assets")
    ensure_writable_folder(args.out, "--out")
    for family in ("sana", "qwen_image"):
        write_tiny_checkpoint(family, args.out / family, seed=args.seed)
    write_tiny_images(args.out / "images", seed=args.seed)
    print(f"wrote tiny checkpoints {args.out}/sana, {args.out}/qwen_image and images in "
          f"{args.out}/images")


if __name__ == "__main__":
    main(__import__("sys").argv[1:])
