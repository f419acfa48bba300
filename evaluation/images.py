"""PNG reading and writing, and the checks on what an `ImageGenerator` returns."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from evaluation.errors import BenchmarkInputError


def check_batch(images: np.ndarray, expected: int) -> np.ndarray:
    """Validate a generator output: uint8, shape (expected, H, W, C), C in {1, 3}."""
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
        kind = getattr(images, "dtype", type(images).__name__)
        raise BenchmarkInputError(
            f"generator returned {kind}, expected a uint8 numpy array; convert with "
            "(x.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()"
        )
    if images.ndim != 4 or images.shape[0] != expected or images.shape[-1] not in (1, 3):
        raise BenchmarkInputError(
            f"generator returned shape {tuple(images.shape)}, expected ({expected}, H, W, C) "
            "with C in {1, 3}; return channels-last images, one per prompt"
        )
    return images


def save_png(image: np.ndarray, path: Path) -> None:
    """Write one (H, W, C) uint8 image atomically, so an interrupted run leaves no half file."""
    array = image[..., 0] if image.shape[-1] == 1 else image
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    Image.fromarray(np.ascontiguousarray(array)).save(tmp, format="PNG")
    os.replace(tmp, path)


def load_rgb(path: Path) -> np.ndarray:
    """Read an image file as uint8 RGB, shape (H, W, 3)."""
    if not path.is_file():
        raise BenchmarkInputError(f"image {path} does not exist; generate it first")
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()


def load_grey(path: Path) -> np.ndarray:
    """Read an image file as uint8 grey, shape (H, W, 1) (RGB converted with PIL's "L")."""
    if not path.is_file():
        raise BenchmarkInputError(f"image {path} does not exist; generate it first")
    with Image.open(path) as img:
        return np.asarray(img.convert("L"), dtype=np.uint8)[..., None].copy()


def to_rgb(image: np.ndarray) -> np.ndarray:
    """(H, W, 1|3) uint8 -> (H, W, 3) uint8; grey images are repeated over channels."""
    return np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image


def to_grey(images: np.ndarray) -> np.ndarray:
    """(..., 1|3) uint8 -> (..., 1) uint8; RGB uses ITU-R 601 luma in PIL's fixed-point form
    (the same values as `Image.convert("L")`), so in-memory and on-disk paths agree."""
    if images.shape[-1] == 1:
        return images
    weights = np.array([19595, 38470, 7471], dtype=np.uint32)
    luma = ((images.astype(np.uint32) * weights).sum(axis=-1) + 0x8000) >> 16
    return luma.astype(np.uint8)[..., None]


def make_grid_2x2(tiles: np.ndarray) -> np.ndarray:
    """(4, H, W, C) -> (2H, 2W, C), tiles in reading order: top-left, top-right, bottom-left,
    bottom-right (the crop order of the DPG-Bench scorer)."""
    if tiles.shape[0] != 4:
        raise BenchmarkInputError(f"a 2x2 grid needs 4 tiles, got {tiles.shape[0]}")
    top = np.concatenate([tiles[0], tiles[1]], axis=1)
    bottom = np.concatenate([tiles[2], tiles[3]], axis=1)
    return np.concatenate([top, bottom], axis=0)


def split_grid_2x2(grid: np.ndarray) -> list[np.ndarray]:
    """Inverse of `make_grid_2x2`: (2H, 2W, C) -> four (H, W, C) tiles in reading order."""
    height, width = grid.shape[0] // 2, grid.shape[1] // 2
    if grid.shape[0] != 2 * height or grid.shape[1] != 2 * width:
        raise BenchmarkInputError(
            f"grid of shape {grid.shape[:2]} has an odd side; save 2x2 grids of equal tiles"
        )
    return [
        grid[:height, :width],
        grid[:height, width:],
        grid[height:, :width],
        grid[height:, width:],
    ]
