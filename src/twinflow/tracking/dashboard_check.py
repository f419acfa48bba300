"""``twinflow dashboard-check``: the MLflow dashboard of a study, checked in a real browser.

Starts ``mlflow ui`` for the project's store on a free loopback port, opens the experiment's
runs view (expanding the fine-tunes nested under their pretraining run) and every run's
Overview and Model metrics pages in headless Chromium, and checks that the pages show what the
store holds (read with MLflow's client API):

* runs view: every run's name;
* Overview: ``Parameters (N)`` with N the run's param count, every param key, the tags
  ``objective``, ``phase``, ``backbone``, ``dataset`` with their values, the parent run;
* Model metrics: one chart section per ``quality/<nfe>`` prefix holding as many charts as the
  run has keys there, and every image key (``grids/nfe1`` ...) as an image card whose slider,
  moved to the last logged step, shows the image (loaded from the server's artifacts).

Screenshots go to ``--out`` (``runs.png``, ``chart.png``, ``<run>-overview.png``,
``<run>-metrics.png``); the exit status is 1 with one line naming what is missing.

    twinflow dashboard-check                        # the project store, twinflow-digits
    twinflow dashboard-check --store sqlite:////tmp/study/main/runs/mlflow.db --out shots
"""

from __future__ import annotations

import argparse
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from twinflow.console import OneLineParser
from twinflow.tracking.browser import Browser, BrowserError
from twinflow.tracking.dashboard_js import (
    CLOSE_ASSISTANT,
    EXPAND_NESTED,
    SCROLL_TO_SECTION,
    SEARCH_CHARTS,
)
from twinflow.tracking.image_card import check_image_card
from twinflow.tracking.mlflow_server import MlflowServer, ServerError

SHOWN_TAGS = ("objective", "phase", "backbone", "dataset")
IMAGE_FILE = re.compile(r"(.+)\+step\+(\d+)\+timestamp\+\d+\+[0-9a-f-]+\.png")


@dataclass
class Expected:
    """One run as the client API reads it: what its pages must show."""

    run_id: str
    name: str
    params: dict[str, str]
    tags: dict[str, str]
    parent: str | None
    quality: dict[str, int] = field(default_factory=dict)  # section -> chart count
    images: dict[str, int] = field(default_factory=dict)  # image key -> last logged step


def expected_runs(uri: str, experiment: str) -> tuple[str, list[Expected]]:
    """The experiment id and one :class:`Expected` per run (oldest first)."""
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        names = ", ".join(e.name for e in client.search_experiments()) or "none"
        raise SystemExit(f"error: no experiment {experiment!r} in {uri} (experiments: {names})")
    runs = client.search_runs([found.experiment_id], order_by=["attributes.start_time"])
    if not runs:
        raise SystemExit(f"error: experiment {experiment!r} has no runs; run `make demo` first")
    names = {r.info.run_id: r.info.run_name for r in runs}
    out = []
    for run in runs:
        tags = run.data.tags
        quality: dict[str, int] = {}
        for key in run.data.metrics:
            if key.startswith("quality/"):
                section = key.rsplit("/", 1)[0]
                quality[section] = quality.get(section, 0) + 1
        images: dict[str, int] = {}
        for item in client.list_artifacts(run.info.run_id, "images"):
            if m := IMAGE_FILE.fullmatch(item.path.rsplit("/", 1)[-1]):
                key = m.group(1).replace("~", "/")
                images[key] = max(images.get(key, 0), int(m.group(2)))
        parent = tags.get("mlflow.parentRunId")
        out.append(Expected(run.info.run_id, run.info.run_name, dict(run.data.params),
                            {k: tags[k] for k in SHOWN_TAGS if k in tags},
                            names.get(parent, parent) if parent else None, quality, images))
    return found.experiment_id, out


def _open(page: Browser, url: str, ready: str, timeout: float) -> bool:
    page.goto(url)
    ok = page.wait_for(ready, timeout)
    page.evaluate(CLOSE_ASSISTANT)
    return ok


def _js(text: str) -> str:
    """``text`` as a JavaScript string literal."""
    return json.dumps(text)


def check_runs_view(page: Browser, base: str, runs: list[Expected], out: Path,
                    timeout: float) -> list[str]:
    """Every run name in the runs table (nested runs expanded); runs.png and chart.png."""
    names = [r.name for r in runs]
    all_shown = " && ".join(f"document.body.innerText.includes({_js(n)})" for n in names)
    _open(page, f"{base}/runs", f"document.body.innerText.includes({_js(names[0])})", timeout)
    deadline = time.monotonic() + timeout
    while not page.evaluate(all_shown) and time.monotonic() < deadline:
        page.evaluate(EXPAND_NESTED)
        time.sleep(1)
    text = page.text()
    page.screenshot(out / "runs.png")
    problems = [f"runs view does not list run {n}" for n in names if n not in text]
    _open(page, f"{base}/runs?compareRunsMode=CHART", "document.body.innerText.includes("
          "'quality/')", timeout)
    page.type_into(SEARCH_CHARTS, "quality/nfe1/")  # the 1-NFE curves of every run
    time.sleep(3)
    page.evaluate(SCROLL_TO_SECTION % _js("quality/nfe1"))
    time.sleep(2)
    page.screenshot(out / "chart.png")
    return problems


def check_overview(page: Browser, base: str, run: Expected, out: Path,
                   timeout: float) -> list[str]:
    """Params (count and every key), the shown tags and the parent run on the Overview."""
    header = f"Parameters ({len(run.params)})"
    _open(page, f"{base}/runs/{run.run_id}",
          f"document.body.innerText.includes({_js(header)})", timeout)
    time.sleep(1)
    text = page.text()
    lines = set(text.splitlines())
    page.screenshot(out / f"{run.name}-overview.png")
    where = f"run {run.name} overview"
    if header not in text:
        found = re.search(r"Parameters \((\d+)\)", text)
        return [f"{where} shows {found.group(0) if found else 'no parameters'}, expected "
                f"{header}"]
    problems = [f"{where} lacks param {k}" for k in run.params if k not in lines]
    problems += [f"{where} lacks tag {k}: {v}" for k, v in run.tags.items()
                 if k not in lines or f": {v}" not in lines]
    if run.parent and f"Parent run\n{run.parent}" not in text:
        problems.append(f"{where} does not name its parent run {run.parent}")
    return problems


def check_metrics(page: Browser, base: str, run: Expected, out: Path,
                  timeout: float) -> list[str]:
    """Quality sections with their chart counts; every image key's last grid on screen."""
    where = f"run {run.name} model metrics"
    wanted = [f"{s}\n({n})" for s, n in run.quality.items()] + list(run.images)
    ready = " && ".join(f"document.body.innerText.includes({_js(w)})" for w in wanted) or "true"
    shown = _open(page, f"{base}/runs/{run.run_id}/model-metrics", ready, timeout)
    text = page.text()
    problems = [] if shown else [f"{where} lacks {w.replace(chr(10), ' ')}" for w in wanted
                                 if w not in text]
    page.type_into(SEARCH_CHARTS, "quality/")
    time.sleep(2)
    page.evaluate(SCROLL_TO_SECTION % _js("quality/"))
    time.sleep(2)
    page.screenshot(out / f"{run.name}-metrics.png")
    for key, step in run.images.items():
        shot = out / f"{run.name}-{key.replace('/', '-')}.png"
        problems += check_image_card(page, key, step, shot, where, timeout)
    return problems


def run_check(uri: str, experiment: str, out: Path, timeout: float = 90,
              width: int = 1400, height: int = 900) -> list[str]:
    """Every problem found (empty when the dashboard shows the whole study)."""
    experiment_id, runs = expected_runs(uri, experiment)
    out.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with MlflowServer(uri) as server, Browser(width, height) as page:
        base = f"{server.url}/#/experiments/{experiment_id}"
        problems += check_runs_view(page, base, runs, out, timeout)
        for run in runs:
            problems += check_overview(page, base, run, out, timeout)
            problems += check_metrics(page, base, run, out, timeout)
    return problems


def main(argv: list[str]) -> None:
    from twinflow.tracking.store import StoreError, open_store, sqlite_path, store_uri

    p = OneLineParser(prog="twinflow dashboard-check", description=__doc__,
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--store", help="tracking URI (default: the project's store)")
    p.add_argument("--experiment", default="twinflow-digits")
    p.add_argument("--out", type=Path, default=Path("runs/dashboard"),
                   help="folder for the screenshots (default: runs/dashboard)")
    p.add_argument("--timeout", type=float, default=90,
                   help="seconds each page may take to show its contents (default: 90)")
    args = p.parse_args(argv)
    uri = args.store or store_uri()
    db = sqlite_path(uri)
    if db is not None and not db.is_file():
        raise SystemExit(f"error: no MLflow store at {db}; run a fit (or `make demo`) first, "
                         "or give --store")
    if args.out.exists() and not args.out.is_dir():
        raise SystemExit(f"error: --out {args.out} is a file; give a folder")
    try:
        open_store(uri)
        problems = run_check(uri, args.experiment, args.out, args.timeout)
    except (StoreError, BrowserError, ServerError) as err:
        raise SystemExit(f"error: {err}") from None
    if problems:
        more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
        raise SystemExit(f"error: the dashboard misses: {'; '.join(problems[:3])}{more}; "
                         f"screenshots in {args.out}")
    print(f"dashboard ok: {args.experiment} shown with all runs, params, tags, quality "
          f"sections and images; screenshots in {args.out}")


__all__ = ["Expected", "expected_runs", "main", "run_check"]
