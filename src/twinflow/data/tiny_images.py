"""A tiny image-caption folder for smoke runs: coloured shapes with their captions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

COLOURS = {
    "red": (220, 40, 40),
    "green": (40, 180, 60),
    "blue": (40, 80, 220),
    "yellow": (235, 210, 40),
    "purple": (150, 60, 190),
}
SHAPES = ("circle", "square", "triangle")


def write_tiny_image_caption_folder(
    path: str | Path, n: int = 32, size: int = 32, seed: int = 0
) -> Path:
    """Write ``n`` PNGs of a coloured shape on a grey background, each with a caption file.

    Captions read ``a red circle``; shape, colour, position and scale are drawn from
    ``seed``, so the same arguments give the same files.  Returns the folder.
    """
    if n < 1 or size < 8:
        raise ValueError(f"tiny image folder needs n >= 1 and size >= 8, got n={n}, size={size}")
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    names = list(COLOURS)
    for i in range(n):
        colour, shape = names[rng.integers(len(names))], SHAPES[rng.integers(len(SHAPES))]
        r = size * rng.uniform(0.2, 0.35)
        cx, cy = rng.uniform(r, size - r, size=2)
        im = Image.new("RGB", (size, size), (128, 128, 128))
        draw = ImageDraw.Draw(im)
        box = (cx - r, cy - r, cx + r, cy + r)
        if shape == "circle":
            draw.ellipse(box, fill=COLOURS[colour])
        elif shape == "square":
            draw.rectangle(box, fill=COLOURS[colour])
        else:
            draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=COLOURS[colour])
        im.save(root / f"{i:05d}.png")
        (root / f"{i:05d}.txt").write_text(f"a {colour} {shape}\n", encoding="utf-8")
    return root
