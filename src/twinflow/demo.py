"""``twinflow demo``: the embedded default end to end, offline, on CPU.

1. flow matching on MNIST-5k text-to-image (the "pretrained" multi-step model);
2. TwinFlow fine-tuning from it (``experiments/digits_twinflow.yaml``);
3. samples (100 per digit) at 1 / 2 / 4 NFE of the final model and of the original model at
   its best multi-step NFE, scored by ``twinflow.judge.DigitJudge`` (both judges, pixel FD,
   precision/recall); a summary table is printed and written to ``<run>/summary.md`` and
   ``<run>/summary.json`` (``twinflow rescore <run>`` rewrites them from the sample files).

With ``--objective rcgm`` or ``flow_matching`` (ablations, usually with ``--pretrained``) the
sample files and the summary go to ``<run>/<objective>/`` instead, so they never replace the
TwinFlow results in ``<run>/``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from twinflow.console import OneLineParser
from twinflow.report import evaluate_run, write_summary

ROOT = Path(__file__).resolve().parents[2]


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = OneLineParser(
        prog="twinflow demo",
        description=__doc__,
        epilog="Other --key value options override the phase-2 config (LightningCLI syntax).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--run-dir", type=Path, default=Path("runs/demo"))
    p.add_argument("--fm-steps", type=int, default=1200, help="flow-matching (phase 1) steps")
    p.add_argument("--steps", type=int, default=2000, help="fine-tuning (phase 2) steps")
    p.add_argument(
        "--objective",
        default="twinflow",
        choices=("twinflow", "rcgm", "flow_matching"),
        help="phase 2 objective (configs/objective/<name>.yaml)",
    )
    p.add_argument(
        "--pretrained", type=Path, help="reuse a phase-1 export folder instead of training one"
    )
    p.add_argument("--per-digit", type=int, default=100, help="samples per digit for the scores")
    p.add_argument(
        "--multi-nfes",
        type=int,
        nargs="+",
        default=[16, 32, 64],
        help="candidate NFEs for the original model's best multi-step score",
    )
    p.add_argument("--experiments", type=Path, default=ROOT / "experiments")
    args, extra = p.parse_known_args(argv)
    if any(not a.startswith("--") for a in extra[::2]):
        p.error(f"unrecognized arguments: {' '.join(extra)}")
    args.overrides = extra  # passed to phase 2, e.g. --model.optimizer.init_args.lr 1e-3
    for name in ("fm_steps", "steps", "per_digit"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if any(n < 1 for n in args.multi_nfes):
        p.error("--multi-nfes must all be >= 1")
    if args.run_dir.exists() and not args.run_dir.is_dir():
        p.error(f"--run-dir {args.run_dir} is a file; give a folder")
    return args


def phase2_args(args: argparse.Namespace, run: Path, pretrained: Path | None) -> list[str]:
    objective = ROOT / "configs" / "objective" / f"{args.objective}.yaml"
    return [
        *(["--model.init_from", str(pretrained)] if pretrained else []),
        "--model.objective", str(objective),
        "--trainer.logger.init_args.run_name", f"digits_{args.objective}",
        *args.overrides,
    ]


def check_phase2(args: argparse.Namespace, run: Path) -> None:
    """Parse and build phase 2's config now: a typo in an override fails before phase 1."""
    from twinflow.lightning_cli import TwinFlowCLI

    TwinFlowCLI(args=["--config", str(args.experiments / "digits_twinflow.yaml"),
                      "--trainer.default_root_dir", str(run / args.objective),
                      *phase2_args(args, run, None), "--trainer.logger", "false"], run=False)


def fit(config: Path, run_dir: Path, steps: int, extra: list[str]) -> Path:
    from twinflow.lightning_cli import TwinFlowCLI

    args = [
        "fit",
        "--config",
        str(config),
        "--trainer.default_root_dir",
        str(run_dir),
        "--trainer.max_steps",
        str(steps),
        # Two validations (halfway, end): quality per NFE on a cheap subset in MLflow, at
        # about 5 s each (the full-size scores that matter come after fit, in summary.md and
        # under summary/*); a plain `lightning fit` of either config keeps its own interval.
        "--trainer.val_check_interval",
        str(max(1, steps // 2)),
        *extra,
    ]
    TwinFlowCLI(args=args)
    return run_dir / "export"


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    run = args.run_dir.resolve()
    run.mkdir(parents=True, exist_ok=True)
    for name in ("digits_fm.yaml", "digits_twinflow.yaml"):
        if not (args.experiments / name).is_file():
            raise SystemExit(
                f"error: {args.experiments / name} not found (run from the repository root)"
            )
    # Inputs first (one line each), then the checks that build phase 2's Trainer.
    if args.pretrained and not (args.pretrained / "model.safetensors").is_file():
        raise SystemExit(
            f"error: --pretrained {args.pretrained} has no model.safetensors (an export folder)"
        )
    from twinflow.run_folder import check_run_folder

    # Both phases' folders before phase 1 trains: a finished earlier run is never replaced.
    for phase_dir in ([] if args.pretrained else [run / "pretrain"]) + [run / args.objective]:
        check_run_folder(phase_dir, resuming=False)
    check_phase2(args, run)
    started = time.time()
    if args.pretrained:
        pretrained = args.pretrained.resolve()
    else:
        print(f"== phase 1: flow matching, {args.fm_steps} steps")
        pretrained = fit(args.experiments / "digits_fm.yaml", run / "pretrain", args.fm_steps, [])
    phase1 = time.time() - started
    print(f"== phase 2: {args.objective} fine-tuning, {args.steps} steps")
    final = fit(args.experiments / "digits_twinflow.yaml", run / args.objective, args.steps,
                phase2_args(args, run, pretrained))
    phase2 = time.time() - started - phase1
    print("== evaluation: 1 / 2 / 4 NFE and the original model at multi-step")
    out = run if args.objective == "twinflow" else run / args.objective
    summary = evaluate_run(final, pretrained, out, args.per_digit, args.multi_nfes)
    summary["timing_s"] = {
        "phase1": round(phase1),
        "phase2": round(phase2),
        "total": round(time.time() - started),
    }
    summary["objective"] = args.objective
    table = write_summary(out, summary)
    from twinflow.tracking.store import store_uri
    from twinflow.tracking.summary import log_summary

    files = [out / "summary.json", out / "summary.md", *sorted(out.glob("grid_*.png"))]
    log_summary(summary, run / args.objective, files, pretrained.parent)
    print(table)
    print(f"run folder: {run}  (MLflow: make mlflow-ui, store {store_uri()})")
