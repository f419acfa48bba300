"""benchmarks/quality_report.py: the quality table on a hand-made result."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from quality_report import markdown  # noqa: E402


def _metrics(fd: float) -> dict:
    one = {"mean": fd, "std": 1.0, "min": fd - 1, "max": fd + 1, "n": 3}
    return {"fd": one, "accuracy": {"mean": 0.9}, "diversity": {"mean": 1.0}}


def test_rows_follow_the_methods_and_then_the_twin_share_not_the_finishing_order():
    finished = ["lambda_0.500", "twinflow", "rcgm", "lambda_0.167", "flow_matching"]
    results = {
        "summary": {m: {"1": _metrics(100.0 + i)} for i, m in enumerate(finished)},
        "steps": dict.fromkeys(finished, 10), "step_s": {},
        "shares": {"flow_matching": None, "rcgm": 0.0, "twinflow": None,
                   "lambda_0.167": 1 / 6, "lambda_0.500": 0.5},
        "config": {"per_digit": 20},
    }
    rows = [ln.split(" | ")[0].lstrip("| ") for ln in markdown(results).splitlines()
            if ln.startswith("| ") and " | 1 | " in ln]
    assert rows == ["flow matching", "RCGM", "TwinFlow", "twin share 0.17", "twin share 0.50"]
    assert "| TwinFlow | 1 | 10 | 101.0 ± 1.0 [100.0, 102.0] | 0.900 | 1.00 |" in markdown(results)


def test_rewriting_the_docs_section_keeps_the_file_stable(tmp_path):
    from bench_all import HEADING, write_section

    doc = tmp_path / "results.md"
    doc.write_text(f"# Results\n\n## Earlier\n\ntext\n\n{HEADING}\n\nold table\n")
    section = f"{HEADING}\n\nnew table\n"
    write_section(doc, section)
    assert doc.read_text() == f"# Results\n\n## Earlier\n\ntext\n\n{HEADING}\n\nnew table\n"
    write_section(doc, section)  # at the end of the file: no blank line piles up
    assert doc.read_text().endswith("new table\n")
    doc.write_text(f"# Results\n\n{HEADING}\n\nold\n\n## Later\n\nmore\n")
    write_section(doc, section)  # in the middle: one blank line before the next section
    assert doc.read_text() == f"# Results\n\n{HEADING}\n\nnew table\n\n## Later\n\nmore\n"
