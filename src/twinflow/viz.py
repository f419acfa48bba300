"""Image grids and sample files (``samples.npz``) shared by callbacks and commands."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def image_grid(
    images: np.ndarray, rows: int | None = None, pad: int = 2, scale: int = 2
) -> np.ndarray:
    """``(N, H, W, C)`` uint8 -> one ``(rows*(H+pad), cols*(W+pad), C)`` uint8 grid."""
    n, h, w, c = images.shape
    cols = int(np.ceil(np.sqrt(n))) if rows is None else int(np.ceil(n / rows))
    rows = int(np.ceil(n / cols))
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), 255, np.uint8)
    for i, img in enumerate(images):
        r, k = divmod(i, cols)
        grid[
            pad + r * (h + pad) : pad + r * (h + pad) + h,
            pad + k * (w + pad) : pad + k * (w + pad) + w,
        ] = img
    if scale > 1:
        grid = grid.repeat(scale, 0).repeat(scale, 1)
    return grid


def save_png(array: np.ndarray, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img = array[..., 0] if array.ndim == 3 and array.shape[-1] == 1 else array
    Image.fromarray(img).save(path)
    return path


def save_samples(
    path: str | Path, images: np.ndarray, prompts: list[str], labels: np.ndarray | None = None
) -> Path:
    """Write ``images`` (uint8 N×H×W×C), ``prompts`` (str) and optional ``labels`` (int)."""
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError(f"samples must be uint8 (N, H, W, C), got {images.dtype} {images.shape}")
    if len(prompts) != len(images):
        raise ValueError(f"{len(images)} images but {len(prompts)} prompts")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"images": images, "prompts": np.asarray(prompts, dtype=str)}
    if labels is not None:
        arrays["labels"] = np.asarray(labels, dtype=np.int64)
    np.savez_compressed(path, **arrays)
    return path
