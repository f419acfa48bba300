"""``twinflow export CKPT --out DIR``: a checkpoint as a self-contained model folder.

Diffusers backbones (SANA, Qwen-Image) export in diffusers format (``transformer/``, and for
LoRA runs ``lora/`` for the stock pipelines; see :mod:`twinflow.diffusers_export`); other
networks as ``model.safetensors`` + ``model.yaml``.  Both load back with ``twinflow sample``,
``make eval MODEL=DIR`` and :func:`twinflow.export.load_module`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from twinflow.console import OneLineParser


def export_model(module: Any, out: Path, fmt: str = "auto") -> Path:
    """Export ``module`` to ``out``: diffusers format for diffusers backbones under ``auto``."""
    from twinflow.diffusers_export import export_diffusers
    from twinflow.export import export_module

    diffusers = hasattr(module.sampling_network, "transformer")
    if fmt == "diffusers" and not diffusers:
        raise ValueError(f"{type(module.network).__name__} is not a diffusers backbone; "
                         "use --format twinflow")
    if fmt == "twinflow" or not diffusers:
        return export_module(module, out)
    return export_diffusers(module, out)


def main(argv: list[str]) -> None:
    p = OneLineParser(prog="twinflow export", description=__doc__)
    p.add_argument("model", type=Path, help="a twinflow .ckpt (or an export folder)")
    p.add_argument("--out", type=Path, required=True, help="folder to write")
    p.add_argument("--format", choices=("auto", "diffusers", "twinflow"), default="auto",
                   help="auto: diffusers for diffusers backbones (default)")
    args = p.parse_args(argv)
    if args.out.resolve() == args.model.resolve():
        p.error("--out must differ from the model path (the export replaces its folder)")
    if args.out.exists() and not args.out.is_dir():
        p.error(f"--out {args.out} is a file; give a folder to write the export into")
    from twinflow.input_checks import ensure_writable_folder

    ensure_writable_folder(args.out.parent, "--out's parent")  # before the model is loaded
    from twinflow.export import load_module
    from twinflow.weights import CheckpointError

    try:
        export_model(load_module(args.model), args.out, args.format)
    except (CheckpointError, ValueError) as err:
        raise SystemExit(f"error: {err}") from None
    print(f"exported {args.model} to {args.out}")
