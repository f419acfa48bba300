"""Self-contained model folders: ``model.safetensors`` + ``model.yaml``, and loading them back.

``model.yaml`` holds the ``TwinFlowModule`` init arguments (``class_path`` for every part), so
``load_module`` rebuilds the exact module from a folder or a ``.ckpt`` with no pickle.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml
from safetensors.torch import save_file

from twinflow.file_modes import honour_umask
from twinflow.module import TwinFlowModule
from twinflow.weights import CheckpointError, load_file, read_checkpoint


@contextmanager
def staged_folder(out_dir: str | Path) -> Iterator[Path]:
    """A fresh folder beside ``out_dir`` to write into; renamed to ``out_dir`` on success.

    A crash mid-write never leaves a half-written export, and an existing export is replaced
    only by a complete one; on an error the staging folder is removed.  An existing export
    that holds more than the new one writes (``make eval``'s default ``eval/``, files a user
    put there) is kept whole as ``<out>.replaced-<UTC time>``, never deleted.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():  # renaming a file aside would hide it, not keep it
        raise ValueError(f"export folder {out} is a file; give a folder path (the file is "
                         "left as it is)")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    honour_umask(staging, recursive=True)  # mkdtemp and safetensors make 0700/0600
    if out.exists():
        written = {p.relative_to(staging) for p in staging.rglob("*")}
        extra = [p for p in out.rglob("*") if p.relative_to(out) not in written]
        if extra:
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
            kept = out.with_name(f"{out.name}.replaced-{stamp}")
            out.rename(kept)
            staging.rename(out)
            print(f"note: {out} held more than an export ({extra[0].relative_to(out)}, ...); "
                  f"the previous folder is kept as {kept}")
            return
        retired = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(retired)
        staging.rename(out)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        staging.rename(out)


def export_module(module: TwinFlowModule, out_dir: str | Path) -> Path:
    """Write the module's weights (network and EMA) and init config to ``out_dir``."""
    if module.model_config is None:
        raise ValueError("the module has no model_config: build it with the twinflow CLI")
    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    with staged_folder(out_dir) as staging:
        save_file(state, staging / "model.safetensors")
        (staging / "model.yaml").write_text(module.model_config)
    return Path(out_dir)


def build_module(config: dict) -> TwinFlowModule:
    """Instantiate a ``TwinFlowModule`` from its init-argument dict (as in ``model.yaml``)."""
    from jsonargparse import ArgumentParser

    parser = ArgumentParser(exit_on_error=False)
    parser.add_class_arguments(TwinFlowModule, "model", fail_untyped=False)
    config = dict(config)
    config["init_from"] = None  # the saved state replaces any warm start
    cfg = parser.parse_object({"model": config})
    return parser.instantiate_classes(cfg).model


def _read_model_yaml(path: Path) -> dict:
    try:
        config = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise CheckpointError(f"{path} is not readable YAML ({first}); re-export the model "
                              "or restore the file") from None
    if not isinstance(config, dict) or not isinstance(config.get("network"), dict):
        raise CheckpointError(f"{path} has no network entry: it is not a twinflow model.yaml; "
                              "re-export the model")
    return config


def _read_weights(path: Path) -> dict:
    try:
        return load_file(path)
    except Exception as err:  # safetensors raises its own error type for damaged files
        raise CheckpointError(f"{path} is damaged or truncated ({str(err).splitlines()[0]}); "
                              "re-export the model or restore the file") from None


def load_module(path: str | Path) -> TwinFlowModule:
    """A ready ``TwinFlowModule`` from an export folder or a twinflow checkpoint (a ``.ckpt``
    file, or the folder a DeepSpeed or FSDP2 run writes).

    Raises:
        CheckpointError: one line naming the file and the fix (missing, damaged, foreign,
            or weights that do not fit the network the config describes).
    """
    from twinflow.sharded_checkpoint import is_sharded_checkpoint, read_sharded_checkpoint

    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"model not found: {path} (give a .ckpt file or an export folder)")
    state = None
    if path.is_dir() and (path / "transformer").is_dir() and (path / "model.yaml").is_file():
        # a diffusers-format export: the network reads the export's own transformer/
        config = _read_model_yaml(path / "model.yaml")
        init = config["network"].setdefault("init_args", {})
        if init.get("pretrained") == ".":
            init["pretrained"] = str(path)
        source = path / "model.yaml"
    elif path.is_dir() and not is_sharded_checkpoint(path):
        cfg_file, weights = path / "model.yaml", path / "model.safetensors"
        if not cfg_file.is_file() or not weights.is_file():
            raise CheckpointError(
                f"{path} is not an export folder (needs model.yaml and model.safetensors, "
                "or model.yaml and transformer/)"
            )
        config, state = _read_model_yaml(cfg_file), _read_weights(weights)
        source = cfg_file
    else:
        ckpt = read_sharded_checkpoint(path) if is_sharded_checkpoint(path) else (
            read_checkpoint(path))
        text = (ckpt.get("twinflow") or {}).get("model_config")
        if not text:
            raise CheckpointError(f"{path} carries no model config: it was not written by twinflow")
        config, state = yaml.safe_load(text), ckpt["state_dict"]
        source = path
    try:
        module = build_module(config)
        module.configure_model()
    except (ValueError, TypeError, KeyError, ImportError, AttributeError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise CheckpointError(f"{source} describes a model that cannot be built ({first[:200]})"
                              "; re-export it with this version of twinflow") from None
    if state is not None:
        check_state_fits(module, state, path)
        module.load_state_dict(state)
    module.model_config = yaml.safe_dump(config, sort_keys=False)
    return module.eval()


def check_state_fits(module: TwinFlowModule, state: dict, source: Path | str) -> None:
    """One line (not torch's list of every mismatch) when ``state`` is for another network."""
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [k for k in own if k in state and tuple(own[k].shape) != tuple(state[k].shape)]
    if not (missing or unexpected or shapes):
        return
    if shapes:
        k = shapes[0]
        what = (f"{len(shapes)} tensors of another shape (e.g. {k}: "
                f"{tuple(state[k].shape)} in the file, {tuple(own[k].shape)} in the network)")
    else:
        what = f"{len(missing)} missing and {len(unexpected)} unexpected tensors"
    raise CheckpointError(f"{source} does not fit the network its config describes: {what}; "
                          "give the checkpoint of this network")
