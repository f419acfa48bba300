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


def read_checkpoint(path: str | Path, mmap: bool = False) -> dict:
    """``torch.load(path, weights_only=True)`` with a clear error for missing/unsafe files.

    ``mmap=True`` maps the tensors instead of reading them (a cheap integrity check)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path} (give the path of a .ckpt file)")
    try:
        try:
            return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
        except RuntimeError:
            if not mmap:
                raise
            # mmap needs the zip format; the plain load says what the file really is
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # unpickling errors come in several types
        raise CheckpointError(
            f"cannot load {path}: it is damaged, truncated or not a checkpoint twinflow wrote "
            f"({type(err).__name__}); only weights-only .ckpt files are accepted"
        ) from None


def damaged(path: Path, err: Exception) -> str:
    first = str(err).splitlines()[0] if str(err) else type(err).__name__
    return f"{path} is damaged or truncated ({first}); restore or re-export it"


def weights_file(path: str | Path) -> Path:
    """The file that holds the weights: ``path``, or an export folder's model.safetensors."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"weights not found: {path} (give a .ckpt, a .safetensors file "
                              "or an export folder)")
    if path.is_dir():
        path = path / "model.safetensors"
        if not path.is_file():
            raise CheckpointError(f"{path.parent} holds no model.safetensors: it is not an "
                                  "export folder (`twinflow export` writes one from a .ckpt)")
    return path


def check_weights(path: str | Path) -> None:
    """What :func:`load_network_state` would refuse, found without reading tensor data."""
    path = weights_file(path)
    if path.suffix == ".safetensors":
        from safetensors import safe_open

        try:
            with safe_open(path, "pt") as handle:
                handle.keys()
        except Exception as err:  # safetensors' own error type for damaged headers
            raise CheckpointError(damaged(path, err)) from None
    elif not isinstance(read_checkpoint(path, mmap=True).get("state_dict"), dict):
        raise CheckpointError(f"{path} has no state_dict: it is not a Lightning checkpoint")


def load_network_state(path: str | Path, prefer_ema: bool = True) -> dict[str, torch.Tensor]:
    """The network's ``state_dict`` from a ``.ckpt``, ``.safetensors`` or export folder."""
    path = weights_file(path)
    if path.suffix == ".safetensors":
        try:
            state = load_file(path)
        except Exception as err:  # safetensors raises its own type for damaged files
            raise CheckpointError(damaged(path, err)) from None
    else:
        state = read_checkpoint(path).get("state_dict")
        if not isinstance(state, dict):
            raise CheckpointError(f"{path} has no state_dict: it is not a Lightning checkpoint")
    for prefix in ("ema.shadow.", "network.") if prefer_ema else ("network.",):
        sub = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
        if sub:
            return sub
    return state


def warm_start(network: torch.nn.Module, source: str | Path) -> None:
    """Load ``source`` (a checkpoint, ``.safetensors`` or export folder: ``model.init_from``)
    into ``network``, strictly: every tensor present with its shape, else one
    :class:`CheckpointError` naming the mismatch. A network ZeRO-3 built partitioned is
    filled one gathered module at a time."""
    from twinflow.networks.zero3 import load_state_partitioned, zero3_partitioned

    state, what = load_network_state(source), f"model.init_from={source}"
    if zero3_partitioned(network.parameters()):
        load_state_partitioned(network, state, what)
        return
    own = network.state_dict()
    other = [k for k in state if k in own and own[k].shape != state[k].shape]
    if other:
        k = other[0]
        raise CheckpointError(
            f"{what} does not fit the network: {len(other)} tensors of another shape (e.g. "
            f"{k}: {tuple(state[k].shape)} in the file, {tuple(own[k].shape)} here); check "
            "model.network matches")
    missing, unexpected = network.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CheckpointError(
            f"{what} does not fit the network: {len(missing)} missing keys (e.g. "
            f"{missing[:3]}), {len(unexpected)} unexpected (e.g. {unexpected[:3]}); check "
            "model.network matches")
