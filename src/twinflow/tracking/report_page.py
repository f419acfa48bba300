"""``twinflow report``: the runs of one experiment compared, from the MLflow store.

Writes ``fd_vs_nfe.png`` (final FD per NFE for every run with ``summary/*`` scores, the
original model's multi-step FD as a dashed line), ``fd_over_training.png`` (the 1-NFE FD
curve ``quality/nfe1/fd`` of every run over its steps) and ``report.html`` (both plots
inline and one table row per run: objective, phase, status, final scores).

    twinflow report                          # the project store, experiment twinflow-digits
    twinflow report --experiment twinflow-tiny --out runs/report-tiny
"""

from __future__ import annotations

import argparse
import base64
import html
import re
from pathlib import Path

from twinflow.console import OneLineParser


def collect(uri: str, experiment: str) -> list[dict]:
    """One dict per run: name, tags, final scores by NFE, 1-NFE FD history."""
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        names = ", ".join(e.name for e in client.search_experiments()) or "none"
        raise SystemExit(f"error: no experiment {experiment!r} in {uri} (experiments: {names})")
    rows = []
    for run in client.search_runs([found.experiment_id], order_by=["attributes.start_time"]):
        metrics, tags = run.data.metrics, run.data.tags
        final = {int(m.group(1)): v for k, v in metrics.items()
                 if (m := re.fullmatch(r"summary/nfe(\d+)/fd", k))}
        history = sorted((m.step, m.value) for m in
                         client.get_metric_history(run.info.run_id, "quality/nfe1/fd"))
        rows.append({
            "name": run.info.run_name, "status": run.info.status,
            "objective": tags.get("objective", ""), "phase": tags.get("phase", ""),
            "final": dict(sorted(final.items())), "history": history,
            "original": (metrics.get("summary/original/fd"), metrics.get("summary/original/nfe")),
            "scores": {k.removeprefix("summary/"): v for k, v in sorted(metrics.items())
                       if k.startswith("summary/")},
        })
    return rows


def plot(rows: list[dict], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    fig, ax = plt.subplots(figsize=(6, 4))
    for row in rows:
        if row["final"]:
            ax.plot(list(row["final"]), list(row["final"].values()), "o-", label=row["name"])
    drawn = set()
    for row in rows:
        fd, nfe = row["original"]
        if fd is not None and (fd, nfe) not in drawn:
            drawn.add((fd, nfe))
            ax.axhline(fd, ls="--", c="gray", label=f"original, {int(nfe or 0)} NFE")
    ax.set(xscale="log", xlabel="NFE", ylabel="FD (digit judge)", title="final FD per NFE")
    ax.legend(fontsize=8)
    fig.tight_layout()
    paths.append(out / "fd_vs_nfe.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    for row in rows:
        if row["history"]:
            steps, values = zip(*row["history"])
            ax.plot(steps, values, "o-", label=row["name"])
    ax.set(xlabel="step", ylabel="1-NFE FD (cheap subset)", title="1-NFE FD over training")
    ax.legend(fontsize=8)
    fig.tight_layout()
    paths.append(out / "fd_over_training.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    return paths


def write_html(rows: list[dict], images: list[Path], out: Path, title: str) -> Path:
    keys = sorted({k for row in rows for k in row["scores"]})
    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
    body = []
    for row in rows:
        cells = "".join(f"<td>{row['scores'][k]:.4g}</td>" if k in row["scores"] else "<td></td>"
                        for k in keys)
        body.append(f"<tr><td>{html.escape(row['name'] or '')}</td><td>{row['objective']}</td>"
                    f"<td>{row['phase']}</td><td>{row['status']}</td>{cells}</tr>")
    pictures = "".join(
        f'<img src="data:image/png;base64,{base64.b64encode(p.read_bytes()).decode()}">'
        for p in images)
    page = (f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title>"
            f"<h1>{html.escape(title)}</h1>{pictures}<table border=1 cellpadding=3>"
            f"<tr><th>run</th><th>objective</th><th>phase</th><th>status</th>{head}</tr>"
            f"{''.join(body)}</table>")
    path = out / "report.html"
    path.write_text(page, encoding="utf-8")
    return path


def main(argv: list[str]) -> None:
    from twinflow.tracking.store import StoreError, open_store, sqlite_path, store_uri

    p = OneLineParser(prog="twinflow report", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--store", help="tracking URI (default: the project's store)")
    p.add_argument("--experiment", default="twinflow-digits")
    p.add_argument("--out", type=Path, default=Path("runs/report"))
    args = p.parse_args(argv)
    uri = args.store or store_uri()
    db = sqlite_path(uri)
    if db is not None and not db.is_file():
        raise SystemExit(f"error: no MLflow store at {db}; run a fit (or `make demo`) first, "
                         "or give --store")
    try:
        open_store(uri)
    except StoreError as err:
        raise SystemExit(f"error: {err}") from None
    if args.out.exists() and not args.out.is_dir():
        raise SystemExit(f"error: --out {args.out} is a file; give a folder")
    rows = collect(uri, args.experiment)
    args.out.mkdir(parents=True, exist_ok=True)
    page = write_html(rows, plot(rows, args.out), args.out, f"{args.experiment}: {len(rows)} runs")
    print(f"wrote {page} ({len(rows)} runs)")


__all__ = ["collect", "main"]
