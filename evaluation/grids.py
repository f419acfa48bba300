"""Sample grids from image files: one row per tag, for reports and logged artifacts."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from evaluation.errors import BenchmarkInputError
from evaluation.images import load_rgb


def row_grid(paths: Sequence[Path], columns: int | None = None, scale: int = 1) -> np.ndarray:
    """One row of RGB images (white-padded to `columns` cells), 2-pixel gaps, `scale`x upsized."""
    from twinflow.viz import image_grid

    if not paths:
        raise BenchmarkInputError("no images for a sample grid; generate images first")
    images = [load_rgb(p) for p in paths]
    shapes = {im.shape for im in images}
    if len(shapes) != 1:
        raise BenchmarkInputError(f"grid images differ in shape {sorted(shapes)}; one size only")
    cells = max(columns or len(images), len(images))
    blank = np.full_like(images[0], 255)
    stack = np.stack(images + [blank] * (cells - len(images)))
    return image_grid(stack, rows=1, scale=scale)


def tags_grid(groups: Mapping[str, Sequence[Path]], scale: int = 1) -> np.ndarray:
    """All non-empty groups stacked as rows of equal width (row order = mapping order)."""
    rows = [paths for paths in groups.values() if paths]
    if not rows:
        raise BenchmarkInputError("no images for a sample grid; generate images first")
    columns = max(len(paths) for paths in rows)
    return np.concatenate([row_grid(paths, columns, scale) for paths in rows], axis=0)


def png_bytes(image: np.ndarray) -> bytes:
    """(H, W, 1|3) uint8 -> PNG file bytes."""
    array = image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(buffer, format="PNG")
    return buffer.getvalue()
