"""``twinflow rescore <run-dir>``: every digit metric for the samples a demo already wrote.

Reads ``samples_nfe<n>.npz`` and ``samples_multi.npz`` (``twinflow.viz.save_samples``) in
the folder, scores them with ``twinflow.judge.DigitJudge`` (both judges, pixel FD,
precision/recall, ratios to the original) and rewrites ``summary.md`` and ``summary.json``
there; the other fields of an existing ``summary.json`` (timing, the original's NFE choice)
are kept.  Nothing is sampled again.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from twinflow.console import OneLineParser


def main(argv: list[str]) -> None:
    p = OneLineParser(prog="twinflow rescore", description=__doc__,
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dirs", type=Path, nargs="+",
                   help="demo output folders (runs/demo, runs/demo/rcgm, ...)")
    p.add_argument("--cache-dir", help="judge cache folder (default $TWINFLOW_CACHE)")
    args = p.parse_args(argv)
    from twinflow.judge.metrics import DigitJudge
    from twinflow.report import rescore, sample_files, write_summary

    for folder in args.run_dirs:  # every folder checked before the judges load
        if not folder.is_dir():
            raise SystemExit(f"error: {folder} is not a folder; give a demo run folder")
        try:
            sample_files(folder)
        except FileNotFoundError as err:
            raise SystemExit(f"error: {err}") from None
    judge = DigitJudge(cache_dir=args.cache_dir)
    for folder in args.run_dirs:
        try:
            summary = rescore(folder, judge)
        except ValueError as err:
            raise SystemExit(f"error: {err}") from None
        print(f"== {folder}\n{write_summary(folder, summary)}")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
