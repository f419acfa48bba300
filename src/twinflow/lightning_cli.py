"""``fit``, ``validate``, ``test`` and ``predict``: LightningCLI around ``TwinFlowModule``.

Configs inject every part by ``class_path``; unknown keys and bad values fail before anything
runs, with one line naming them.  The command table that dispatches these and the other
subcommands is ``twinflow.cli``.
"""

from __future__ import annotations

import os
import re
import sys
import warnings
from pathlib import Path

import yaml
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from twinflow.input_checks import (
    check_ckpt_path,
    check_optimizer,
    check_values,
    ckpt_path_in,
    ensure_writable_folder,
    first_mismatch,
)
from twinflow.module import TwinFlowModule
from twinflow.run_folder import check_run_folder, is_launching_rank, lock_run_folder
from twinflow.tracking.config_record import RunDirConfig, plain

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Known-harmless notices: the frozen EMA copy is in eval mode on purpose; the pytree one is
# Lightning's own; the args one fires when `demo` calls the CLI in-process.
warnings.filterwarnings("ignore", message=r".*module\(s\) in eval mode.*")
warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
warnings.filterwarnings("ignore", message=r".*LightningCLI's args parameter is intended.*")


_BOILERPLATE = (
    "Does not validate against",
    "Subtypes:",
    "Errors:",
    "Given value",
    "- Expected a <class 'NoneType'>",
    "Expected a <class 'NoneType'>",
)


#: For commands that read an experiment but train nothing (``plan``, ``prepare``): the
#: Trainer LightningCLI builds anyway is a one-process CPU one, so a GPU run's config (qwen_full's
#: ZeRO-3 on every GPU) is read on any machine, and nothing is launched.  The precision stays
#: the experiment's (a precision plugin, as the digits runs name, excludes a second setting).
READ_ONLY_TRAINER = ("--trainer.accelerator=cpu", "--trainer.devices=1",
                     "--trainer.strategy=auto", "--trainer.logger=false",
                     "--trainer.callbacks=null")


def concise(message: str) -> str:
    """One line from jsonargparse's nested Union report: the lines that say what is wrong."""
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    kept = [ln.lstrip("- ") for ln in lines if not ln.lstrip("- ").startswith(_BOILERPLATE)]
    return " ".join(kept or lines)


class ConciseParser(LightningArgumentParser):
    """Reports a bad config key or value as one line naming it, without the usage dump."""

    def error(self, message: str, ex: Exception | None = None):
        if not self.exit_on_error:
            return super().error(message, ex)
        text = concise(str(message))
        sys.stderr.write(f"error: {text} (see --help for the accepted options)\n")
        self.exit(2)


class TwinFlowCLI(LightningCLI):
    """LightningCLI with omegaconf interpolation and model-config bookkeeping."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("subclass_mode_data", True)
        kwargs.setdefault("parser_kwargs", {"parser_mode": "omegaconf"})
        kwargs.setdefault("save_config_kwargs", {"overwrite": True})
        kwargs.setdefault("save_config_callback", RunDirConfig)
        kwargs.setdefault("parser_class", ConciseParser)
        super().__init__(TwinFlowModule, None, *args, **kwargs)

    def parse_arguments(self, parser, args) -> None:
        from omegaconf.errors import InterpolationResolutionError

        # LightningCLI reads --ckpt_path while parsing (for its hyperparameters): check first.
        ckpt = ckpt_path_in(sys.argv[1:] if args is None else list(args))
        if ckpt:
            check_ckpt_path(ckpt)
        try:
            super().parse_arguments(parser, args)
        except InterpolationResolutionError as err:
            # `${oc.env:VAR}` with VAR unset: say which variable and what it should hold.
            match = re.search(r"Environment variable '([^']+)' not found", str(err))
            what = f"environment variable {match.group(1)} is not set" if match else concise(
                str(err))
            raise SystemExit(f"error: {what}: the config reads a local path from it; export it "
                             "(see configs/paths/README.md)") from None

    def before_instantiate_classes(self) -> None:
        """Put every run output under ``trainer.default_root_dir`` unless a path is given."""
        cfg = self.config[self.subcommand] if self.subcommand else self.config
        run_dir = Path(cfg.trainer.default_root_dir or "runs/default").resolve()
        cfg.trainer.default_root_dir = str(run_dir)
        check_values(cfg, self.subcommand)
        if self.subcommand == "fit" and is_launching_rank():
            # Before anything is written: a new fit never replaces an earlier run's results.
            check_run_folder(run_dir, resuming=bool(cfg.get("ckpt_path")))
        ensure_writable_folder(run_dir, "--trainer.default_root_dir")
        if self.subcommand == "fit" and is_launching_rank():
            lock_run_folder(run_dir)
        loggers = (
            cfg.trainer.logger if isinstance(cfg.trainer.logger, list) else [cfg.trainer.logger]
        )
        for logger in loggers:
            if getattr(logger, "class_path", "").endswith("MLFlowLogger"):
                # Every run of the project in one store (tracking/store.py), so the dashboard
                # shows phases, ablations and evaluations side by side.
                from twinflow.tracking.store import artifact_root, store_uri

                args = logger.init_args
                if not args.get("tracking_uri"):
                    args.tracking_uri = store_uri()
                if not args.get("artifact_location") and artifact_root(args.tracking_uri):
                    args.artifact_location = artifact_root(args.tracking_uri)
                if is_launching_rank():
                    from twinflow.tracking.store import StoreError, open_store

                    try:  # a broken store is one line now, not a traceback mid-fit
                        open_store(args.tracking_uri)
                    except StoreError as err:
                        raise SystemExit(f"error: {err}") from None
        for callback in cfg.trainer.callbacks or []:
            if getattr(callback, "class_path", "").endswith("ModelCheckpoint"):
                if not callback.init_args.get("dirpath"):
                    callback.init_args.dirpath = str(run_dir / "checkpoints")
                # A resumed run replaces last.ckpt in place (no last-v1.ckpt beside it).
                callback.init_args.enable_version_counter = False

    def instantiate_classes(self) -> None:
        from lightning.fabric.utilities.exceptions import MisconfigurationException

        try:
            super().instantiate_classes()
        except (ValueError, FileNotFoundError, MisconfigurationException) as err:
            # Constructors (and the Trainer's accelerator / strategy / precision checks)
            # validate their arguments: report the bad value before any work.
            raise SystemExit(f"error: invalid config: {concise(str(err))}") from None
        cfg = self.config[self.subcommand] if self.subcommand else self.config
        self.model.model_config = yaml.safe_dump(plain(cfg.model), sort_keys=False)
        check_optimizer(self.model)
        if self.model.init_from and self.subcommand == "fit":
            from twinflow.weights import CheckpointError, check_weights

            try:
                check_weights(self.model.init_from)
            except CheckpointError as err:
                raise SystemExit(f"error: model.init_from: {err}") from None
        if self.subcommand in ("fit", "validate", "test", "predict") and hasattr(
                self.datamodule, "open_cache"):
            try:  # a missing, foreign or too small cache: one line before the run starts
                self.datamodule.open_cache(self.model)
            except ValueError as err:
                raise SystemExit(f"error: {err}") from None
        if self.subcommand == "fit":
            from twinflow.callbacks.interrupt_checkpoint import InterruptCheckpoint
            from twinflow.callbacks.progress import use_step_progress_bar
            from twinflow.checkpoint_io import use_atomic_checkpoints

            # last.ckpt is written beside itself and renamed: a kill mid-write keeps the old one.
            use_atomic_checkpoints(self.trainer)
            use_step_progress_bar(self.trainer)  # "Train step 40/1500", not "Epoch 0/-2"
            self.trainer.callbacks.append(InterruptCheckpoint())

    def _run_subcommand(self, subcommand: str) -> None:
        from lightning.pytorch.utilities.exceptions import SIGTERMException

        from twinflow.weights import CheckpointError

        try:
            super()._run_subcommand(subcommand)
        except CheckpointError as err:
            raise SystemExit(f"error: {err}") from None
        except RuntimeError as err:
            # Lightning's restore of --ckpt_path into a network of another shape: torch lists
            # every mismatching tensor; one line names the file instead.
            if "Error(s) in loading state_dict" not in str(err):
                raise
            cfg = self.config[subcommand]
            raise SystemExit(f"error: --ckpt_path {cfg.get('ckpt_path')} does not fit this "
                             f"config's network ({first_mismatch(str(err))}); give a checkpoint "
                             "of the same model.network") from None
        except SIGTERMException:
            # Lightning exits 0 here; a stopped fit is not a finished one (exit 1).
            saved = subcommand == "fit" and self.trainer.global_step > 0
            where = Path(self.trainer.default_root_dir) / "checkpoints" / "last.ckpt"
            raise SystemExit(f"error: {subcommand} stopped by SIGTERM at step "
                             f"{self.trainer.global_step}" + (f"; resume with --ckpt_path {where}"
                                                              if saved else "")) from None

    def after_fit(self) -> None:
        from twinflow.export_command import export_model

        if not self.trainer.state.finished:
            return
        out = Path(self.trainer.default_root_dir) / "export"
        if getattr(self.trainer.strategy, "zero_stage_3", False):
            # Partitioned weights: every rank writes its shard, rank 0 consolidates and exports.
            final = Path(self.trainer.default_root_dir) / "checkpoints" / "final.ckpt"
            self.trainer.save_checkpoint(final, weights_only=False)  # the full state
            self.trainer.strategy.barrier()
            if self.trainer.is_global_zero:
                from twinflow.export import load_module

                export_model(load_module(final), out)
                print(f"exported weights and config to {out}")
            return
        # Every fit ends with checkpoints/last.ckpt, also one shorter than the checkpoint
        # interval (every rank takes part: a collective under sharded strategies).
        self.trainer.save_checkpoint(
            Path(self.trainer.default_root_dir) / "checkpoints" / "last.ckpt", weights_only=False)
        from twinflow.strategies.fsdp2 import full_state_dict, is_fsdp2

        if is_fsdp2(self.model.network):
            # Sharded weights: gathered to full tensors on CPU (every rank takes part), then
            # loaded into an unsharded copy of the module that rank 0 exports.
            state = full_state_dict(self.model.network)
            if self.trainer.is_global_zero:
                from twinflow.export import build_module

                plain = build_module(yaml.safe_load(self.model.model_config))
                plain.configure_model()
                plain.network.load_state_dict(state)
                plain.model_config = self.model.model_config
                export_model(plain, out)
                print(f"exported weights and config to {out}")
            return
        if self.trainer.is_global_zero:
            export_model(self.model, out)
            print(f"exported weights and config to {out}")


def main(argv: list[str] | None = None) -> None:
    """LightningCLI on ``argv`` (``None``: ``sys.argv``, as the console script passes it)."""
    TwinFlowCLI(args=argv)
