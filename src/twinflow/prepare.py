"""``twinflow prepare --config <experiment>``: encode the experiment's data into its cache.

The config is parsed exactly as ``fit`` parses it (same overrides), and the data module's
source is encoded with the *model's* codec and conditioner, so training reads latents and
text embeddings made by the very parts it samples with.  Resumable: rerun after a kill.
"""

from __future__ import annotations

import argparse
import time

from twinflow.console import OneLineParser


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    p = OneLineParser(
        prog="twinflow prepare", description=__doc__,
        epilog="Other options (e.g. --data.cache_dir DIR) override the config as in `fit`.",
    )
    p.add_argument("--config", action="append", required=True, help="experiment YAML")
    p.add_argument("--device", default="cpu", help="where the VAE encodes (default cpu)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p.parse_known_args(argv)


def main(argv: list[str]) -> None:
    args, overrides = parse_args(argv)
    from twinflow.lightning_cli import READ_ONLY_TRAINER, TwinFlowCLI

    cli_args = [a for c in args.config for a in ("--config", c)] + overrides
    # No logger or callbacks (preparing must not open an MLflow run or write checkpoints), and
    # a CPU trainer: a GPU run's data is prepared on any machine (the VAE's is --device).
    cli = TwinFlowCLI(args=[*cli_args, *READ_ONLY_TRAINER], run=False)
    data, model = cli.datamodule, cli.model
    from twinflow.input_checks import check_cuda_setting

    # Before the first file of the cache is written: both encoders' devices must exist here.
    check_cuda_setting(args.device, "--device", "--device cpu")
    check_cuda_setting(getattr(model.conditioner, "device", None),
                       "model.conditioner.init_args.device",
                       "--model.conditioner.init_args.device cpu")
    if not hasattr(data, "prepare"):
        raise SystemExit(f"error: {type(data).__name__} has no cache to prepare (only "
                         "image-caption data modules do); run `twinflow fit` directly")
    if model.conditioner is None:
        raise SystemExit("error: model.conditioner is not set: the cache needs the model's "
                         "text conditioner")
    start = time.perf_counter()
    try:
        summary = data.prepare(model.codec, model.conditioner, args.device,
                               progress=not args.no_progress)
    except ValueError as err:  # bad source, mismatched cache: one line, nothing written
        raise SystemExit(f"error: {err}") from None
    print(f"{summary.line()} in {time.perf_counter() - start:.1f} s")
