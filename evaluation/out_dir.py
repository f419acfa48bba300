"""The evaluation output folder: its default place and a guard against mixing models.

Generation is resumable (images on disk are kept), so a folder must only ever hold the images
of one model state: `model.json` records the model path and its weights' size and mtime, and
a folder claimed for another model (or retrained weights) is refused.
"""

from __future__ import annotations

import json
from pathlib import Path

from evaluation.errors import BenchmarkInputError

STAMP = "model.json"


def default_out_dir(model: Path) -> Path:
    """`<export dir>/eval` for an export folder, `<ckpt dir>/eval/<ckpt stem>` for a .ckpt."""
    return model / "eval" if model.is_dir() else model.parent / "eval" / model.stem


def model_stamp(model: Path) -> dict[str, object]:
    """Path, size and mtime of the weights (`model.safetensors` of a folder, or the .ckpt)."""
    weights = model / "model.safetensors" if model.is_dir() else model
    stat = weights.stat()
    return {"model": str(model.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def claim_out_dir(out: Path, model: Path) -> None:
    """Create `out` for `model`, or accept it if it already belongs to the same weights."""
    stamp, path = model_stamp(model), out / STAMP
    if path.is_file():
        try:
            previous = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            previous = None
        if previous != stamp:
            raise BenchmarkInputError(
                f"--out {out} holds images of another model or older weights ({path}); "
                "pass a new --out or delete that folder"
            )
        return
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")
