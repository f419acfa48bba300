"""Tables, plots and the MLflow run of ``quality_vs_nfe.py`` (numbers in, files out).

``summarize`` reduces the per-seed runs to mean / std / min / max of every judge metric per
method and NFE; ``write_outputs`` writes ``results.json``, ``results.md``, ``fd_vs_nfe.png``,
``fd_vs_lambda.png`` and ``grids.png`` and logs them to the project's MLflow store.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import numpy as np

LABELS = {"flow_matching": "flow matching", "rcgm": "RCGM", "twinflow": "TwinFlow"}


def summarize(runs: list[dict]) -> dict:
    """``{method: {nfe: {metric: {mean, std, min, max, n}}}}`` over the training seeds."""
    values: dict = {}
    for run in runs:
        for nfe, scores in run["scores"].items():
            for key, value in scores.items():
                if key != "n":
                    values.setdefault(run["method"], {}).setdefault(nfe, {}).setdefault(
                        key, []).append(value)
    return {m: {nfe: {k: {"mean": statistics.fmean(v),
                          "std": statistics.stdev(v) if len(v) > 1 else 0.0,
                          "min": min(v), "max": max(v), "n": len(v)}
                      for k, v in metrics.items()}
                for nfe, metrics in per_nfe.items()}
            for m, per_nfe in values.items()}


def label(method: str, shares: dict) -> str:
    if method in LABELS:
        return LABELS[method]
    return f"twin share {shares[method]:.2f}"


def method_order(shares: dict):
    """Sort key of the table's rows: flow matching, RCGM, TwinFlow, then the twin-share runs by
    share (the summary itself is in the order the runs finished)."""
    named = list(LABELS)
    return lambda m: (named.index(m), 0.0) if m in named else (len(named), shares.get(m) or 0.0)


def markdown(results: dict) -> str:
    """One row per method and NFE: FD mean ± std [min, max], accuracy, diversity, steps."""
    summary, steps, step_s = results["summary"], results["steps"], results["step_s"]
    metrics = sorted({k for per in summary.values() for m in per.values() for k in m}
                     - {"fd", "accuracy", "diversity"})
    head = ["method", "NFE", "steps (s/step)", "FD mean ± std [min, max]", "accuracy",
            "diversity", *metrics]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for method in sorted(summary, key=method_order(results["shares"])):
        per_nfe = summary[method]
        cost = f"{steps[method]}" + (f" ({step_s[method]:.3f})" if method in step_s else "")
        for nfe, m in per_nfe.items():
            fd = m["fd"]
            cells = [label(method, results["shares"]), nfe, cost,
                     f"{fd['mean']:.1f} ± {fd['std']:.1f} [{fd['min']:.1f}, {fd['max']:.1f}]",
                     f"{m['accuracy']['mean']:.3f}", f"{m['diversity']['mean']:.2f}",
                     *(f"{m[k]['mean']:.3g}" if k in m else "" for k in metrics)]
            lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    if results.get("original"):
        o = results["original"]
        lines.append(f"\nOriginal phase-1 model: FD {o['multi']['fd']:.1f} at {32} NFE (mul), "
                     f"{o['1']['fd']:.1f} at 1 NFE.")
    n = max((v["fd"]["n"] for per in summary.values() for v in per.values()), default=0)
    lines.append(f"\n{n} training seed(s) per method; {results['config']['per_digit']} samples "
                 "per digit; error bars are std over seeds.")
    if results.get("partial"):
        lines.append(f"\n**Partial results: {results['partial']}.**")
    return "\n".join(lines)


def _nfe_x(nfe: str) -> float:
    return 32.0 if nfe == "multi" else float(nfe)


def plot_fd_vs_nfe(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for method in ("flow_matching", "rcgm", "twinflow"):
        per = results["summary"].get(method)
        if not per:
            continue
        keys = sorted(per, key=_nfe_x)
        x = [_nfe_x(k) for k in keys]
        y = [per[k]["fd"]["mean"] for k in keys]
        e = [per[k]["fd"]["std"] for k in keys]
        ax.errorbar(x, y, yerr=e, marker="o", capsize=3, label=LABELS[method])
    if results.get("original"):
        ax.axhline(results["original"]["multi"]["fd"], color="gray", ls="--",
                   label="original, 32 NFE")
    ax.set(xscale="log", yscale="log", xlabel="NFE (multi = 32)", ylabel="FD (digit judge)",
           title="FD against NFE, equal wall-clock fine-tuning")
    ax.set_xticks([1, 2, 4, 8, 32], ["1", "2", "4", "8", "multi"])
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_fd_vs_lambda(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shares = {m: s for m, s in results["shares"].items() if s is not None}
    fig, ax = plt.subplots(figsize=(6, 4))
    for nfe in ("1", "2"):
        pts = sorted((s, results["summary"][m][nfe]["fd"]) for m, s in shares.items()
                     if m in results["summary"] and nfe in results["summary"][m])
        if pts:
            ax.errorbar([p[0] for p in pts], [p[1]["mean"] for p in pts],
                        yerr=[p[1]["std"] for p in pts], marker="o", capsize=3,
                        label=f"{nfe} NFE")
    tw = results["summary"].get("twinflow", {}).get("1")
    if tw:
        ax.errorbar([0.4], [tw["fd"]["mean"]], yerr=[tw["fd"]["std"]], marker="*", ms=12,
                    ls="none", color="k", label="shipped twinflow.yaml (0.4), 1 NFE")
    ax.set(xlabel="twin share lambda (e2e + adv; 0 = RCGM)", ylabel="FD (digit judge)",
           yscale="log", title="FD against the twin share")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_grids(results: dict, path: Path) -> None:
    """Seed-0 samples side by side: one panel per method and NFE, one row per digit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = []
    for run in sorted(results["runs"], key=lambda r: r["method"]):
        for nfe in ("1", "2", "multi"):
            if nfe in run.get("grids", {}) and run["method"] in LABELS:
                panels.append((f"{LABELS[run['method']]}\n{nfe} NFE", run["grids"][nfe]))
    if not panels:
        return
    fig, axes = plt.subplots(1, len(panels), figsize=(1.6 * len(panels), 3.8))
    for ax, (title, images) in zip(np.atleast_1d(axes), panels):
        imgs = np.asarray(images, np.uint8).reshape(10, -1, 28, 28)  # (digit, sample, H, W)
        ax.imshow(np.concatenate([np.concatenate(list(row), axis=1) for row in imgs]),
                  cmap="gray")
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def log_mlflow(results: dict, files: list[Path]) -> str:
    """One run in experiment ``twinflow-bench`` with params, FD metrics and the files."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    from twinflow.tracking.store import artifact_root, open_store, store_uri

    uri = store_uri()
    open_store(uri)
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("twinflow-bench")
    if exp is None:
        root = artifact_root(uri)  # beside a SQLite store, as the other runs; servers choose
        location = (Path(root) / "bench").resolve().as_uri() if root else None
        exp_id = client.create_experiment("twinflow-bench", artifact_location=location)
    else:
        exp_id = exp.experiment_id
    run = client.create_run(exp_id, run_name="quality_vs_nfe",
                            tags={"mlflow.source.name": "benchmarks/quality_vs_nfe.py"})
    params = {f"config.{k}": v for k, v in results["config"].items()}
    params |= {f"steps.{m}": n for m, n in results["steps"].items()}
    params |= {f"step_s.{m}": round(s, 4) for m, s in results["step_s"].items()}
    params["guidance_precision"] = results["guidance_precision"]
    now = int(time.time() * 1000)
    metrics = [Metric(f"{m}/nfe{nfe}/{k}_mean", v["mean"], now, 0)
               for m, per in results["summary"].items() for nfe, ms in per.items()
               for k, v in ms.items()]
    client.log_batch(run.info.run_id, params=[Param(k, str(v)[:500]) for k, v in params.items()])
    for start in range(0, len(metrics), 500):
        client.log_batch(run.info.run_id, metrics=metrics[start:start + 500])
    for f in files:
        if f.is_file():
            client.log_artifact(run.info.run_id, str(f))
    client.set_terminated(run.info.run_id)
    return run.info.run_id


def write_outputs(results: dict, out: Path, mlflow: bool = True) -> None:
    plot_fd_vs_nfe(results, out / "fd_vs_nfe.png")
    plot_fd_vs_lambda(results, out / "fd_vs_lambda.png")
    plot_grids(results, out / "grids.png")
    stored = results | {"runs": [{k: v for k, v in r.items() if k != "grids"}
                                 for r in results["runs"]]}
    (out / "results.json").write_text(json.dumps(stored, indent=1))
    (out / "results.md").write_text(markdown(results) + "\n")
    files = [out / n for n in ("results.json", "results.md", "fd_vs_nfe.png",
                               "fd_vs_lambda.png", "grids.png")]
    if mlflow:
        run_id = log_mlflow(stored, files)
        print(f"MLflow run {run_id} (experiment twinflow-bench)")
