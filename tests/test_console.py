"""Lightning's INFO notes go to stdout once, stderr stays for problems (console.py)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
from twinflow.console import notes_to_stdout
notes_to_stdout()  # before anything imported Lightning, as `twinflow demo` does
notes_to_stdout()  # idempotent
import lightning.pytorch as pl
from lightning.fabric.utilities.seed import seed_everything
seed_everything(3)
import logging
logging.getLogger("lightning.pytorch").warning("a warning")
"""


def test_notes_print_once_on_stdout_and_warnings_on_stderr():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("Seed set to 3") == 1, out.stdout
    assert "Seed set" not in out.stderr, out.stderr
    assert out.stderr.count("a warning") == 1 and "a warning" not in out.stdout
