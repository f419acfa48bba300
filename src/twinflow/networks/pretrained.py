"""Loading diffusers / transformers components from local folders, with one-line errors.

Real weights are never downloaded: every ``from_pretrained`` here gets a local folder (the
root of a diffusers checkpoint such as ``Qwen/Qwen-Image`` as cloned to disk, plus the
component's ``subfolder``).  A missing folder, a folder without ``config.json`` or a wrong
subfolder raises :class:`PretrainedPathError` naming the path and the fix, before any
weights are read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class PretrainedPathError(FileNotFoundError):
    """A local pretrained path (or its subfolder) is missing or is not a model folder."""


def component_dir(
    root: str | Path, subfolder: str | None = None, marker: str = "config.json"
) -> Path:
    """``root/subfolder`` after checking that it exists and holds ``marker``.

    Raises:
        PretrainedPathError: with the offending path and the subfolders that do exist.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise PretrainedPathError(
            f"pretrained folder not found: {root} (download the checkpoint to local disk and "
            "set its path in configs/paths/ or the TWINFLOW_* environment variable)"
        )
    folder = root / subfolder if subfolder else root
    if not (folder / marker).is_file():
        present = sorted(p.name for p in root.iterdir() if p.is_dir())
        where = f"{root} has subfolders {present}" if present else f"{root} has no subfolders"
        raise PretrainedPathError(
            f"{folder} has no {marker}: not a {subfolder or 'model'} folder ({where}); "
            "point the path at the checkpoint root and check the subfolder name"
        )
    return folder


def load_component(cls: Any, root: str | Path, subfolder: str | None = None, **kwargs: Any):
    """``cls.from_pretrained(root, subfolder=..., local_files_only=True, **kwargs)``, checked.

    ``marker`` defaults to ``config.json``; tokenizers pass ``marker="tokenizer_config.json"``.
    """
    marker = kwargs.pop("marker", "config.json")
    component_dir(root, subfolder, marker)
    extra = {"subfolder": subfolder} if subfolder else {}
    return cls.from_pretrained(
        str(Path(root).expanduser()), local_files_only=True, **extra, **kwargs
    )


def load_twin_transformer(
    twin_cls: Any, stock_cls: Any, root: str | Path, subfolder: str | None, dtype: Any
):
    """A twin (target-time) transformer from a local folder holding either kind of checkpoint.

    A folder saved from ``twin_cls`` (its ``config.json`` names the class) loads directly; a
    stock ``stock_cls`` checkpoint loads as stock and is converted by ``twin_cls.from_stock``.
    """
    folder = component_dir(root, subfolder)
    saved = json.loads((folder / "config.json").read_text()).get("_class_name")
    if saved == twin_cls.__name__:
        return load_component(twin_cls, root, subfolder, torch_dtype=dtype)
    return twin_cls.from_stock(load_component(stock_cls, root, subfolder, torch_dtype=dtype))
