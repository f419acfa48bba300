"""``twinflow judges``: train the digit judges into the cache now, not in the first run.

The digits scores (``twinflow.judge.DigitJudge``) need two small classifiers and a PCA
projection, all fitted on the bundled MNIST-5k digits on first use and kept in
``$TWINFLOW_CACHE`` (about 15 s on 2 cores, once per machine and torch version), and the
machine's bf16 decision (``twinflow.bf16_units``, under a second). ``make setup`` runs this,
so the first ``make demo`` does not pay for them. Rerunning finds the cache and returns.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from twinflow.console import OneLineParser


def main(argv: list[str]) -> None:
    p = OneLineParser(prog="twinflow judges", description=__doc__,
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cache-dir", help="judge cache folder (default $TWINFLOW_CACHE)")
    args = p.parse_args(argv)
    from twinflow.bf16_units import bf16_enabled, reason
    from twinflow.cache_root import default_cache_dir
    from twinflow.judge.metrics import DigitJudge

    start = time.perf_counter()
    folder = Path(args.cache_dir) if args.cache_dir else default_cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)  # before 15 s of training, not after
        if not os.access(folder, os.W_OK):
            raise PermissionError(13, "not writable")
        DigitJudge(cache_dir=args.cache_dir)
        decision = "bf16" if bf16_enabled("cpu") else "fp32"
    except OSError as err:  # an unwritable cache: one line, the fix named
        raise SystemExit(f"error: cannot write the judge cache in {folder} "
                         f"({err.strerror or err}); set TWINFLOW_CACHE or --cache-dir to a "
                         "writable folder") from None
    print(f"digit judges ready in {folder} ({time.perf_counter() - start:.1f} s); "
          f"CPU precision: {decision} ({reason('cpu')})")
