"""Written files follow the umask (0644 under 022), also where the writer makes 0600."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from tests.helpers import toy_config
from twinflow.checkpoint_io import write_atomically
from twinflow.data.text_encoder import MiniLMConditioner
from twinflow.export import build_module, export_module
from twinflow.file_modes import current_umask
from twinflow.viz import save_png, save_samples


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _toy_module(root: Path):
    model = yaml.safe_load(toy_config(root).read_text())["model"]
    model["objective"] = yaml.safe_load(Path(model["objective"]).read_text())
    module = build_module(model)
    module.configure_model()
    module.model_config = yaml.safe_dump(model)
    return module


@pytest.mark.parametrize("mask", [0o022, 0o002])
def test_exports_checkpoints_samples_and_caches_follow_the_umask(tmp_path, mask):
    old = os.umask(mask)
    try:
        assert current_umask() == mask
        files, folders = [], []
        export = export_module(_toy_module(tmp_path / "cfg"), tmp_path / "export")
        folders.append(export)
        files += [export / "model.safetensors", export / "model.yaml"]
        files.append(write_atomically({"global_step": 1, "w": torch.ones(2)},
                                      tmp_path / "checkpoints" / "last.ckpt"))
        images = np.zeros((2, 4, 4, 1), dtype=np.uint8)
        files.append(save_png(images[0], tmp_path / "samples" / "grid.png"))
        files.append(save_samples(tmp_path / "samples" / "samples.npz", images, ["a", "b"]))
        cache = tmp_path / "text"
        MiniLMConditioner(cache_dir=str(cache)).encode(["a handwritten three"])
        files += sorted(cache.glob("*.safetensors"))
        assert len(files) == 6
        assert {f.name: oct(_mode(f)) for f in files} == {f.name: oct(0o666 & ~mask)
                                                          for f in files}
        assert {oct(_mode(d)) for d in folders} == {oct(0o777 & ~mask)}
    finally:
        os.umask(old)
