"""The ``twinflow`` (and ``lightning``) command: one table of subcommands.

Every subcommand is a ``main(argv)`` in its own module, imported only when it runs (so
``twinflow sample`` never imports the trainer, and no module imports this one back).
``fit``, ``validate``, ``test`` and ``predict`` are LightningCLI (``twinflow.lightning_cli``).
"""

from __future__ import annotations

import importlib
import sys

# name -> (module with ``main(argv)``, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "fit": ("twinflow.lightning_cli", "train a model from a config (LightningCLI)"),
    "validate": ("twinflow.lightning_cli", "validation losses of a checkpoint"),
    "test": ("twinflow.lightning_cli", "test losses of a checkpoint"),
    "predict": ("twinflow.lightning_cli", "generate with the config's predict data"),
    "sample": ("twinflow.sample", "checkpoint or export -> PNG grid and samples.npz"),
    "demo": ("twinflow.demo", "the embedded default end to end (digits, CPU)"),
    "prepare": ("twinflow.prepare", "encode an experiment's images and captions into its cache"),
    "export": ("twinflow.export_command",
               "checkpoint -> model folder (diffusers format for SANA, Qwen)"),
    "plan": ("twinflow.plan", "per-GPU memory of an experiment under DeepSpeed/DDP"),
    "tiny-assets": ("twinflow.tiny_assets", "tiny checkpoints and images for experiments/tiny"),
    "report": ("twinflow.tracking.report_page",
               "FD per NFE and over training for the runs of an MLflow experiment"),
    "dashboard-check": ("twinflow.tracking.dashboard_check",
                        "the MLflow dashboard checked in headless Chromium, with screenshots"),
    "rescore": ("twinflow.rescore", "every digit metric for a finished demo's sample files"),
    "judges": ("twinflow.judges_command",
               "train the digit judges into $TWINFLOW_CACHE (make setup runs it)"),
}
LIGHTNING = ("fit", "validate", "test", "predict")


def usage() -> str:
    rows = "\n".join(f"  {name:<10} {text}" for name, (_, text) in COMMANDS.items())
    return f"usage: twinflow <command> [options]\n\ncommands:\n{rows}\n"


def main(argv: list[str] | None = None) -> None:
    from_sys = argv is None
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        sys.stdout.write(usage())
        return
    name = args[0]
    if name not in COMMANDS:
        raise SystemExit(
            f"error: unknown command {name!r}; use one of {', '.join(COMMANDS)} "
            "(`twinflow --help` lists them)"
        )
    from twinflow.bf16_units import forced

    try:
        forced()  # a bad TWINFLOW_BF16: one line before any work
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None
    command = importlib.import_module(COMMANDS[name][0])
    from twinflow.console import notes_to_stdout

    notes_to_stdout()
    if name in LIGHTNING:
        # LightningCLI reads the subcommand itself; from the console script it takes sys.argv.
        command.main(None if from_sys else args)
    else:
        command.main(args[1:])


if __name__ == "__main__":
    main()
