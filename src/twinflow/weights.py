"""Safe weight loading: safetensors, or checkpoints read with ``torch.load(weights_only=True)``.

No arbitrary pickle is ever executed.  ``load_network_state`` accepts a Lightning ``.ckpt``
(``state_dict`` with ``network.``/``ema.shadow.`` prefixes), a ``.safetensors`` file or an
export folder with ``model.safetensors``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file


class CheckpointError(ValueError):
    """A checkpoint path or its contents cannot be used."""


def read_checkpoint(path: str | Path) -> dict:
    """``torch.load(path, weights_only=True)`` with a clear error for missing/unsafe files."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path} (give the path of a .ckpt file)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # unpickling errors come in several types
        raise CheckpointError(
            f"cannot load {path} safely ({type(err).__name__}: {str(err).splitlines()[0]}); "
            "only weights-only checkpoints written by twinflow are accepted"
        ) from None


def load_network_state(path: str | Path, prefer_ema: bool = True) -> dict[str, torch.Tensor]:
    """The network's ``state_dict`` from a ``.ckpt``, ``.safetensors`` or export folder."""
    path = Path(path)
    if path.is_dir():
        path = path / "model.safetensors"
    if path.suffix == ".safetensors":
        if not path.is_file():
            raise CheckpointError(
                f"weights not found: {path} (export a model with `twinflow export`)"
            )
        state = load_file(path)
    else:
        state = read_checkpoint(path).get("state_dict")
        if not isinstance(state, dict):
            raise CheckpointError(f"{path} has no state_dict: it is not a Lightning checkpoint")
    for prefix in ("ema.shadow.", "network.") if prefer_ema else ("network.",):
        sub = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
        if sub:
            return sub
    return state
