"""Quality against NFE and the twin-share (lambda) ablation at equal wall-clock budgets.

From ONE phase-1 flow-matching model (``--pretrained`` export/weights, or trained here with
``experiments/digits_fm.yaml`` for ``--fm-steps`` steps), every method is fine-tuned through
``TwinFlowModule``'s own training step under a Lightning ``Trainer`` (``module_fit.py``):

* flow matching (scored at 1, 2, 4, 8 NFE and multi-step), RCGM (1, 2, 4), TwinFlow (1, 2, 4,
  8), and the twin-share sweep: ``e2e + adv`` share lambda in {1/6, 1/3, 1/2, 2/3} of
  ``configs/objective/twinflow.yaml`` (halved between ``e2e`` and ``adv``, the rest halved
  between ``mul`` and ``any``); lambda = 0 is the RCGM runs (no adv group, no L_rectify).
* Equal budgets: each objective's step time is measured first (``--calib-steps`` steps, median
  after warm-up, run 2 at a time like the real runs), and ``--budget-s`` becomes a fixed step
  count per method, so a run is deterministic given the counts; both are recorded.
* Each method over ``--seeds`` seeds (training seed; sampling noise is fixed), scored with the
  digit judge on ``--per-digit`` samples per digit, the same for all methods.

Writes to ``--out``: ``results.json``, ``results.md``, ``fd_vs_nfe.png``, ``fd_vs_lambda.png``,
``grids.png``; logs one MLflow run (experiment ``twinflow-bench``) with the params, the FDs and
the files.

    python benchmarks/quality_vs_nfe.py --quick            # minutes: 1 seed, tiny budgets
    python benchmarks/quality_vs_nfe.py --pretrained runs/demo/pretrain/export
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "src"))

from digit_scoring import judge, score  # noqa: E402
from module_fit import objective_config, twin_share_partition  # noqa: E402

SHARES = (1 / 6, 1 / 3, 1 / 2, 2 / 3)


def methods() -> dict[str, dict]:
    """name -> objective config, NFEs (``"multi"`` = the ``mul`` sampler at 32), share."""
    table = {
        "flow_matching": {"objective": objective_config("flow_matching"),
                          "nfes": [1, 2, 4, 8, "multi"]},
        "rcgm": {"objective": objective_config("rcgm"), "nfes": [1, 2, 4], "share": 0.0},
        "twinflow": {"objective": objective_config("twinflow"), "nfes": [1, 2, 4, 8]},
    }
    for share in SHARES:
        table[f"lambda_{share:.3f}"] = {
            "objective": objective_config("twinflow", partition=twin_share_partition(share)),
            "nfes": [1, 2], "share": share}
    return table


def set_guidance_precision(objective: dict, precision: str) -> dict:
    guidance = objective["init_args"].get("guidance")
    if isinstance(guidance, dict) and "precision" in guidance and precision != "config":
        guidance["precision"] = precision
    return objective


# ---- worker side (one process per slot, one torch thread each) -----------------------------
def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def job(task: dict) -> dict:
    """One fit (and its scores); ``task["kind"]`` is pretrain, calibrate or train."""
    from module_fit import EXPERIMENT, StepTimer, fine_tune

    started = time.time()
    timer = StepTimer()
    run_dir = Path(task["run_dir"])
    if task["kind"] == "pretrain":
        module = fine_tune(None, task["steps"], run_dir, None, seed=0, timer=timer,
                           experiment=EXPERIMENT.parent / "digits_fm.yaml")
        from twinflow.export import export_module

        export_module(module, run_dir / "export")  # weights (network + EMA) and model.yaml
        scores, grids = score(module, ["multi", 1], task["per_digit"])
    else:
        init = Path(task["init_from"])
        module = fine_tune(task["objective"], task["steps"], run_dir, init, seed=task["seed"],
                           timer=timer)
        scores, grids = ({}, {}) if task["kind"] == "calibrate" else score(
            module, task["nfes"], task["per_digit"])
    del module
    return {**{k: v for k, v in task.items() if k != "objective"}, "scores": scores,
            "grids": grids if task.get("seed", 0) == 0 else {},
            "step_s_median": timer.median(), "train_s": round(sum(timer.times), 2),
            "wall_s": round(time.time() - started, 2)}


# ---- driver ----------------------------------------------------------------------------
def run_pool(tasks: list[dict], jobs: int, each=None) -> list[dict]:
    """``job`` over ``tasks`` in ``jobs`` processes (1 thread each; one job, e.g. phase 1, gets
    every core); ``each(done)`` after every finished task with the results so far (partial
    outputs of a long run)."""
    done: list[dict] = []
    if jobs == 1:
        _init_worker(len(os.sched_getaffinity(0)))
        results = (job(t) for t in tasks)
    else:
        pool = mp.get_context("spawn").Pool(jobs, initializer=_init_worker, initargs=(1,))
        results = pool.imap_unordered(job, tasks)
    for row in results:
        done.append(row)
        if each is not None:
            each(done)
    if jobs != 1:
        pool.close()
        pool.join()
    return done


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("runs/bench/quality"))
    p.add_argument("--pretrained", type=Path, help="phase-1 export folder or weights file")
    p.add_argument("--fm-steps", type=int, help="phase-1 steps when trained here (600)")
    p.add_argument("--budget-s", type=float,
                   help="fine-tuning wall-clock seconds per run, converted to steps per method "
                   "(120)")
    p.add_argument("--steps", nargs="*", default=[], metavar="METHOD=N",
                   help="fixed step counts instead of the calibration (e.g. twinflow=150)")
    p.add_argument("--calib-steps", type=int, help="steps timed per method (8)")
    p.add_argument("--seeds", type=int, help="training seeds per method (3)")
    p.add_argument("--per-digit", type=int, help="samples per digit for the judge (20)")
    p.add_argument("--jobs", type=int, default=2, help="parallel processes (1 thread each)")
    p.add_argument("--methods", nargs="*", help="subset of the method table (default: all)")
    p.add_argument("--guidance-precision", choices=("auto", "config", "fp32", "bf16"),
                   default="auto",
                   help="auto: the recipe's own (auto: bf16 only where it pays on the CPU)")
    p.add_argument("--quick", action="store_true",
                   help="defaults 1 seed, 60 phase-1 steps, 6 s budgets, 5 per digit (a smoke run)")
    p.add_argument("--no-mlflow", action="store_true")
    args = p.parse_args(argv)
    defaults = {"seeds": 3, "fm_steps": 600, "budget_s": 120.0, "per_digit": 20, "calib_steps": 8}
    if args.quick:
        defaults |= {"seeds": 1, "fm_steps": 60, "budget_s": 6.0, "per_digit": 5, "calib_steps": 4}
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    for name in ("seeds", "per_digit", "jobs", "fm_steps", "calib_steps"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.budget_s <= 0:
        p.error("--budget-s must be > 0")
    try:
        args.steps = {k: int(v) for k, v in (s.split("=") for s in args.steps)}
    except ValueError:
        p.error("--steps takes METHOD=N pairs, e.g. twinflow=150")
    table = methods()
    unknown = set(args.methods or []) | set(args.steps)
    unknown -= set(table)
    if unknown:
        p.error(f"unknown method(s) {sorted(unknown)}; choose from {list(table)}")
    if args.pretrained is not None and not args.pretrained.exists():
        p.error(f"--pretrained {args.pretrained} not found; give a phase-1 export folder")
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    started = time.time()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    table = {k: v for k, v in methods().items() if not args.methods or k in args.methods}
    precision = args.guidance_precision
    if precision == "auto":
        # The shipped recipes' guidance is itself `auto` (bf16 only where the CPU has bf16
        # units): one decision, made in twinflow.bf16_units, not a second one here.
        precision = "config"
    for spec in table.values():
        set_guidance_precision(spec["objective"], precision)
    judge()  # loads the judge (trains it once into the cache) before the workers start
    work = out / "work"
    pretrain = None
    if args.pretrained is None:
        print(f"== phase 1: flow matching, {args.fm_steps} steps", flush=True)
        pretrain = run_pool([{"kind": "pretrain", "steps": args.fm_steps, "per_digit":
                              args.per_digit, "run_dir": str(work / "pretrain")}], 1)[0]
        init_from = work / "pretrain" / "export"
    else:
        init_from = args.pretrained.resolve()
    base = {"init_from": str(init_from), "per_digit": args.per_digit}
    calib = [m for m in table if m not in args.steps]
    step_s = {}
    if calib:
        print(f"== step times: {args.calib_steps} steps of {calib}", flush=True)
        rows = run_pool([base | {"kind": "calibrate", "method": m, "seed": 0,
                                 "steps": args.calib_steps, "objective": table[m]["objective"],
                                 "run_dir": str(work / f"calib_{m}")} for m in calib],
                        args.jobs)
        step_s = {r["method"]: r["step_s_median"] for r in rows}
    steps = {m: args.steps.get(m) or max(1, int(args.budget_s / step_s[m])) for m in table}
    print(f"== fine-tuning: steps per method {steps}", flush=True)
    tasks = [base | {"kind": "train", "method": m, "seed": s, "steps": steps[m],
                     "objective": table[m]["objective"], "nfes": table[m]["nfes"],
                     "run_dir": str(work / f"{m}_seed{s}")}
             for s in range(args.seeds) for m in table]
    # Seed by seed, the longest first: a run stopped early still has whole seeds.
    tasks.sort(key=lambda t: (t["seed"], -steps[t["method"]] * step_s.get(t["method"], 1)))
    from quality_report import summarize, write_outputs

    results = {
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "guidance_precision": precision, "pretrained": str(init_from),
        "machine": f"{platform.machine()} {os.cpu_count()} CPUs, {platform.node()}",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "step_s": step_s, "steps": steps, "shares": {m: table[m].get("share") for m in table},
        "original": pretrain["scores"] if pretrain else None,
    }

    def write(runs: list[dict], final: bool = False) -> None:
        results.update(runs=runs, summary=summarize(runs), wall_s=round(time.time() - started, 1),
                       partial=None if final else f"{len(runs)} of {len(tasks)} runs done")
        write_outputs(results, out, mlflow=final and not args.no_mlflow)

    write(run_pool(tasks, args.jobs, each=write), final=True)
    print((out / "results.md").read_text())
    print(f"wall time {results['wall_s']:.0f} s; outputs in {out}")
    return results


if __name__ == "__main__":
    main()
