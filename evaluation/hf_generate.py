"""Batched image+text -> text with a transformers model and processor (shared by judges)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image

from evaluation.errors import BenchmarkInputError


def require_local_dir(path: str | os.PathLike[str], what: str) -> str:
    """The path as str if it is an existing folder; judges never download."""
    if not os.path.isdir(path):
        raise BenchmarkInputError(f"{what} folder {path} not found; pass a save_pretrained folder")
    return os.fspath(path)


def load_local(
    model_cls: Any, path: str | os.PathLike[str], what: str,
    device: str | torch.device, dtype: torch.dtype,
) -> tuple[Any, Any]:
    """``(processor, model)`` from a local save_pretrained folder, model in eval mode on
    ``device``; a missing folder is a one-line :class:`BenchmarkInputError`."""
    from transformers import AutoProcessor

    folder = require_local_dir(path, what)
    processor = AutoProcessor.from_pretrained(folder, local_files_only=True)
    model = model_cls.from_pretrained(folder, local_files_only=True, dtype=dtype)
    return processor, model.to(device).eval()


def to_device(batch: Any, device: torch.device, dtype: torch.dtype) -> dict[str, Any]:
    """Move tensors to `device`; floating tensors (pixels) also take the model dtype."""
    out = {}
    for key, value in batch.items():
        if isinstance(value, torch.Tensor):
            value = value.to(device, dtype) if value.is_floating_point() else value.to(device)
        out[key] = value
    return out


@torch.no_grad()
def generate_text(
    model: Any,
    processor: Any,
    images: Sequence[np.ndarray],
    texts: Sequence[str],
    max_new_tokens: int,
) -> list[str]:
    """Greedy-decode one answer per (image, text) pair.

    Decoder-only models echo the prompt before the answer; when the output starts with the
    input ids those are cut off, so only newly generated text is returned.
    """
    pil = [Image.fromarray(np.asarray(im)).convert("RGB") for im in images]
    inputs = processor(images=pil, text=list(texts), return_tensors="pt", padding=True)
    inputs = to_device(inputs, model.device, model.dtype)
    out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
    prompt_ids = inputs.get("input_ids")
    n = 0 if prompt_ids is None else prompt_ids.shape[1]
    if prompt_ids is not None and out.shape[1] >= n and torch.equal(out[:, :n], prompt_ids):
        out = out[:, n:]
    return [t.strip() for t in processor.batch_decode(out, skip_special_tokens=True)]
