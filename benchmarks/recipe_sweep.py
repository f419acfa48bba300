"""Recipe sweep for the digits default: phase-2 variants from one phase-1 model, scored alike.

Each variant fine-tunes the same pretrained flow-matching export with a changed objective or
training setting through the module's own training step (``TwinFlowModule`` under a
Lightning ``Trainer``, ``benchmarks/module_fit.py``: AdamW, gradient clip 1, the module's EMA
as the L_base target), once per training seed (``--seeds``), and scores 100 samples per digit
at 1, 2 and 4 NFE with every digit metric on each sampling seed (``--score-seeds``; the
original model is scored on the same ones).  The summary (``seed_summary.py``) gives each
variant's FD ratios and recall difference to the original as mean ± sd over training seeds,
and its paired difference to ``current`` ± standard error.  One seed moves these by more
than most recipe changes: compare over several.  Variants run as parallel processes (one
thread each), so a GPU machine can try a dozen recipes in minutes; trends, not bit-exact
numbers, carry over to the CPU demo.

    # all variants, 8 at a time (needs the project installed)
    python benchmarks/recipe_sweep.py run --pretrained runs/demo/pretrain/export --out results
    # two variants over four training seeds and three sampling draws, 2 at a time
    python benchmarks/recipe_sweep.py run --variants current logit_normal_guidance0.15 \
        --seeds 0 1 2 3 --score-seeds 4321 1 2 --jobs 2 --budget-s 1e9
    python benchmarks/recipe_sweep.py summary --out results
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import lightning as L
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "src"))

from digit_scoring import SCORE_SEED  # noqa: E402

# name -> overrides: "base" names the configs/objective file to start from (default
# twinflow.yaml, the current recipe); "objective.<field>[.<key>]" edits its init_args;
# "train.<key>" edits the fit (lr, batch, steps, target_ema = the module's EMA decay, which
# is the L_base target and the sampling network; null = no EMA, the online network).
# The first sweep started from the paper's reference settings (twinflow_reference.yaml, EMA
# 0.99); its variants are kept so its README table can be reproduced.
REFERENCE: dict = {"base": "twinflow_reference.yaml", "train.target_ema": 0.99}
LOGIT_NORMAL: dict = {"objective.time_sampler": {"kind": "logit_normal", "time_dist_ctrl": [0, 1]}}
LIGHT_TWIN: dict = {"objective.partition": {"e2e": 0.2, "mul": 0.3, "any": 0.3, "adv": 0.2}}
VARIANTS: dict[str, dict] = {  # in launch order: the most telling first
    "current": {},
    "reference": REFERENCE,
    "reference_steps4000": REFERENCE | {"train.steps": 4000},
    "reference_batch32_steps4000": REFERENCE | {"train.batch": 32, "train.steps": 4000},
    "reference_rectify1.0": REFERENCE | {"objective.rectify_weight": 1.0},
    "reference_lr2e-3": REFERENCE | {"train.lr": 2e-3},
    "reference_target_online": REFERENCE | {"train.target_ema": None},
    "reference_rcgm_order1": REFERENCE | {"objective.rcgm.order": 1},
    "reference_twin_heavy": REFERENCE
    | {"objective.partition": {"e2e": 0.25, "mul": 0.2, "any": 0.2, "adv": 0.35}},
    "reference_twin_light": REFERENCE | LIGHT_TWIN,
    "reference_no_cond_dropout": REFERENCE | {"objective.cond_dropout": 0.0},
    "reference_rectify0.25": REFERENCE | {"objective.rectify_weight": 0.25},
    "reference_target_ema0.999": REFERENCE | {"train.target_ema": 0.999},
    "reference_logit_normal": REFERENCE | LOGIT_NORMAL,
    "reference_barron_c1e-2": REFERENCE | {"objective.metric.c": 0.01},
    "reference_rectify_noclamp": REFERENCE | {"objective.rectify.clamp": None},
    "reference_guidance0.5": REFERENCE | {"objective.guidance.ratio": 0.5},
    "logit_normal_nodrop": REFERENCE | LOGIT_NORMAL | {"objective.cond_dropout": 0.0},
    "logit_normal_guidance0.15": REFERENCE | LOGIT_NORMAL | {"objective.guidance.ratio": 0.15},
    "logit_normal_guidance0.15_light_ema0.999": REFERENCE
    | LOGIT_NORMAL
    | LIGHT_TWIN
    | {"objective.guidance.ratio": 0.15, "train.target_ema": 0.999},
    # the recipe before the twin path's t' became uniform (the adv rows logit-normal too)
    "adv_logit_normal": {"objective.adv_time_sampler": None},
    "logit_normal_guidance0.25_ema0.999": REFERENCE
    | LOGIT_NORMAL
    | {"objective.guidance.ratio": 0.25, "train.target_ema": 0.999},
}


TRAIN = {"steps": 2000, "batch": 64, "lr": 1e-3, "target_ema": 0.999}


def build_objective(overrides: dict) -> dict:
    """The objective config (``class_path`` + ``init_args``) of a variant."""
    from module_fit import objective_config

    changes: dict = {}
    for key, value in overrides.items():
        if not key.startswith("objective."):
            continue
        path = key.split(".")[1:]
        if len(path) == 1:
            changes[path[0]] = value
        else:
            changes.setdefault(path[0], {})[path[1]] = value
    base = overrides.get("base", "twinflow.yaml").removesuffix(".yaml")
    return objective_config(base, **changes)


class Deadline(L.Callback):
    """Stops the fit at a wall-clock deadline (``time.time()`` seconds)."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if time.time() >= self.deadline:
            trainer.should_stop = True


def worker(name: str, seed: int, pretrained: Path, out: Path, per_digit: int,
           score_seeds: list[int], budget_s: float) -> None:
    """Fine-tune one variant with one training seed through the module's training step
    (stopped after ``budget_s`` seconds of its own), score it on every sampling seed, write
    ``<name>_s<seed>.json``."""
    deadline = time.time() + budget_s
    from digit_scoring import score
    from module_fit import StepTimer, fine_tune

    torch.set_num_threads(1)
    overrides = VARIANTS.get(name, {})
    train = TRAIN | {k[6:]: v for k, v in overrides.items() if k.startswith("train.")}
    timer = StepTimer()
    module = fine_tune(build_objective(overrides), train["steps"], out / "runs" / f"{name}_s{seed}",
                       pretrained, seed=seed, timer=timer, lr=train["lr"],
                       batch_size=train["batch"], ema_decay=train["target_ema"],
                       callbacks=[Deadline(deadline)])
    scores = {str(q): score(module, [1, 2, 4], per_digit, seed=q)[0] for q in score_seeds}
    row = {"variant": name, "seed": seed, "step": module.global_step,
           "train_s": round(sum(timer.times)), "pretrained": str(pretrained),
           "per_digit": per_digit, "scores": scores}
    (out / f"{name}_s{seed}.json").write_text(json.dumps(row, indent=1))


ORIGINAL = "original_model.json"


def original_model(pretrained: Path, out: Path, per_digit: int, score_seeds: list[int]) -> None:
    """The original (phase-1) model with the multi-step (``mul``) sampler at 16, 32 and 64
    NFE on each sampling seed, same scorer.  Seeds already in ``original_model.json`` for
    the same model and sample count are kept."""
    from digit_scoring import judge, sample

    from twinflow.export import load_module

    torch.set_num_threads(1)
    path, key = out / ORIGINAL, {"pretrained": str(pretrained), "per_digit": per_digit}
    old = json.loads(path.read_text()) if path.is_file() else {}
    done = old.get("scores", {}) if all(old.get(k) == v for k, v in key.items()) else {}
    module = load_module(pretrained)
    for q in score_seeds:
        if str(q) not in done:
            done[str(q)] = {str(nfe): judge().score(*sample(module, per_digit, nfe, q, "mul"))
                            .as_dict() for nfe in (16, 32, 64)}
    path.write_text(json.dumps(key | {"scores": done}, indent=1))


def run(args: argparse.Namespace) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    names = args.variants or list(VARIANTS)
    env = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    common = ["--pretrained", str(args.pretrained), "--out", str(args.out),
              "--per-digit", str(args.per_digit), "--budget-s", str(args.budget_s),
              "--score-seeds", *[str(q) for q in args.score_seeds]]
    queue = [["original"]]  # scores only the sampling seeds it lacks
    queue += [["worker", "--name", n, "--seed", str(s)] for n in names for s in args.seeds]
    running: list[subprocess.Popen] = []
    failed: list[str] = []
    while queue or running:
        while queue and len(running) < args.jobs:
            cmd = [sys.executable, __file__, *queue.pop(0), *common]
            running.append(subprocess.Popen(cmd, env=env))
        time.sleep(2)
        failed += [" ".join(p.args[2:7]) for p in running if p.poll() not in (None, 0)]
        running = [p for p in running if p.poll() is None]
    if failed:
        print(f"error: {len(failed)} job(s) failed ({'; '.join(failed)}); their output is "
              "above, the summary below covers the rest", file=sys.stderr)
    summarize(args.out)
    if failed:
        raise SystemExit(1)


def summarize(out: Path) -> dict:
    """Print and write (``summary.json``, ``summary.md``) the seed-aware comparison."""
    from seed_summary import compare, markdown

    if not (out / ORIGINAL).is_file():
        raise SystemExit(f"error: {out / ORIGINAL} is missing; run the sweep (mode run) first")
    original = json.loads((out / ORIGINAL).read_text())
    rows = []
    for path in sorted(out.glob("*_s*.json")):
        row = json.loads(path.read_text())
        if any(row.get(k) != original.get(k) for k in ("pretrained", "per_digit")):
            raise SystemExit(f"error: {path} was fine-tuned from {row.get('pretrained')} and "
                             f"scored on {row.get('per_digit')} samples per digit, the original "
                             f"in {ORIGINAL} is {original.get('pretrained')} at "
                             f"{original.get('per_digit')}; give each comparison its own --out")
        rows.append(row)
    if not rows:
        raise SystemExit(f"error: no variant results (<name>_s<seed>.json) in {out}")
    result = compare(rows, original["scores"])
    result["steps"] = {f"{r['variant']}_s{r['seed']}": [r["step"], r["train_s"]] for r in rows}
    text = "\n\n".join(markdown(result, nfe) for nfe in ("1", "2", "4"))
    (out / "summary.json").write_text(json.dumps(result, indent=1))
    (out / "summary.md").write_text(text + "\n")
    print(text)
    return result


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("mode", choices=("run", "worker", "original", "summary"))
    p.add_argument("--pretrained", type=Path, default=Path("runs/demo/pretrain/export"))
    p.add_argument("--out", type=Path, default=Path(".sweep/results"))
    p.add_argument("--per-digit", type=int, default=100, help="samples per digit scored")
    p.add_argument("--jobs", type=int, default=8)
    p.add_argument("--budget-s", type=float, default=420.0,
                   help="each fine-tuning stops after this many seconds (its own clock)")
    p.add_argument("--variants", nargs="*", help=f"default: all of {list(VARIANTS)}")
    p.add_argument("--seeds", type=int, nargs="+", default=[0],
                   help="training seeds: each variant is fine-tuned once per seed")
    p.add_argument("--score-seeds", type=int, nargs="+", default=[SCORE_SEED],
                   help="sampling seeds: every model is scored on each (same noise for all)")
    p.add_argument("--name")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    unknown = set(args.variants or []) - set(VARIANTS)
    if unknown:
        p.error(f"unknown variant(s) {sorted(unknown)}; choose from {list(VARIANTS)}")
    if args.mode in ("run", "worker", "original") and not args.pretrained.exists():
        p.error(f"--pretrained {args.pretrained} not found; give a phase-1 export folder "
                "(make demo writes runs/demo/pretrain/export)")
    args.out = args.out.resolve()
    if args.mode == "run":
        run(args)
    elif args.mode == "worker":
        worker(args.name, args.seed, args.pretrained.resolve(), args.out, args.per_digit,
               args.score_seeds, args.budget_s)
    elif args.mode == "original":
        original_model(args.pretrained.resolve(), args.out, args.per_digit, args.score_seeds)
    else:
        summarize(args.out)


if __name__ == "__main__":
    main()
