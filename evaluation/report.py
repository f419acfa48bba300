"""A self-contained HTML report: score tables, an NFE-vs-score plot and per-tag sample grids.

Every image (the plot, the grids) is embedded as a base64 PNG, so `report.html` is one file
that opens anywhere, e.g. as an MLflow artifact.
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evaluation.evaluate import Evaluation
from evaluation.grids import png_bytes, row_grid
from evaluation.metrics import extra_metrics

_STYLE = """body{font-family:sans-serif;margin:24px;color:#222}
table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ccc;padding:3px 8px;
text-align:right}th:first-child,td:first-child{text-align:left}h2{margin-top:32px}
.grid{margin:4px 0}.tag{font-size:90%;color:#555}"""


def _img(data: bytes, alt: str) -> str:
    encoded = base64.b64encode(data).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{encoded}">'


def _fmt(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.4g}"


def series(evals: Sequence[Evaluation]) -> dict[str, list[tuple[int, float]]]:
    """Metric name -> [(nfe, value)] sorted by NFE: "overall" and every named extra."""
    out: dict[str, list[tuple[int, float]]] = {}
    for ev in sorted(evals, key=lambda e: e.nfe):
        values = {"overall": float(ev.result.overall)}
        values.update((k, v) for k, v in extra_metrics(ev.result).items() if k != "accuracy")
        for name, value in values.items():
            out.setdefault(name, []).append((ev.nfe, value))
    return out


def nfe_plot(evaluations: Mapping[str, Sequence[Evaluation]]) -> bytes:
    """PNG of score vs NFE: one panel per (benchmark, metric), log2 NFE axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(bench, name, points) for bench, evals in evaluations.items()
              for name, points in series(evals).items()]
    cols = min(3, max(1, len(panels)))
    rows = math.ceil(len(panels) / cols) if panels else 1
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
    for ax, (bench, name, points) in zip(axes.flat, panels, strict=False):
        nfes, values = zip(*points, strict=True)
        ax.plot(nfes, values, marker="o")
        ax.set_xscale("log", base=2)
        ax.set_xticks(nfes, [str(n) for n in nfes])
        ax.set_title(f"{bench}: {name}")
        ax.set_xlabel("NFE")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()


def score_table(evals: Sequence[Evaluation]) -> str:
    """Rows: overall, extras, every tag; columns: the NFEs."""
    ordered = sorted(evals, key=lambda e: e.nfe)
    names: list[str] = ["overall"]
    for ev in ordered:
        names += [k for k in extra_metrics(ev.result) if k not in names]
        names += [t for t in ev.result.per_tag if t not in names]

    def cell(ev: Evaluation, name: str) -> str:
        if name == "overall":
            return _fmt(ev.result.overall)
        value = extra_metrics(ev.result).get(name, ev.result.per_tag.get(name))
        return "" if value is None else _fmt(float(value))

    head = "".join(f"<th>NFE {ev.nfe}</th>" for ev in ordered)
    body = "".join(
        f"<tr><td>{html.escape(name)}</td>" + "".join(f"<td>{cell(ev, name)}</td>"
                                                      for ev in ordered) + "</tr>"
        for name in names
    )
    return f"<table><tr><th>metric / tag</th>{head}</tr>{body}</table>"


def sample_section(ev: Evaluation) -> str:
    parts = [f"<h3>NFE {ev.nfe} samples</h3>"]
    for tag, files in ev.samples.items():
        grid = row_grid([Path(f) for f in files], scale=2)
        parts.append(f'<div class="grid"><div class="tag">{html.escape(tag)}</div>'
                     f"{_img(png_bytes(grid), tag)}</div>")
    return "".join(parts)


def render_report(
    title: str, evaluations: Mapping[str, Sequence[Evaluation]], info: Mapping[str, Any]
) -> str:
    """The full HTML document (see module docstring)."""
    rows = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>"
                   for k, v in info.items())
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
             f"</title><style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>",
             f"<table>{rows}</table>", "<h2>Score vs NFE</h2>",
             _img(nfe_plot(evaluations), "score vs NFE")]
    for bench, evals in evaluations.items():
        meta = evals[0].result.meta if evals else {}
        judge = meta.get("judge") or meta.get("detector") or meta.get("backend") or ""
        if meta.get("answer_rule"):
            judge = f"{judge} (answer rule: {meta['answer_rule']})"
        parts.append(f"<h2>{html.escape(bench)}</h2><p>judge: {html.escape(str(judge))}</p>")
        parts.append(score_table(evals))
        parts.extend(sample_section(ev) for ev in sorted(evals, key=lambda e: e.nfe))
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(
    path: str | os.PathLike[str],
    title: str,
    evaluations: Mapping[str, Sequence[Evaluation]],
    info: Mapping[str, Any],
) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(title, evaluations, info), encoding="utf-8")
    return out
