"""Where the commands write: results and progress on stdout, problems on stderr.

Lightning's loggers send their INFO notes ("Seed set to 0", "GPU available: False", tips) to
stderr; they go to stdout here, so that a failed command's stderr is the one line that says
what is wrong, and warnings and errors still reach stderr.  ``OneLineParser`` is argparse
that reports a bad option as that one line instead of a usage block.
"""

from __future__ import annotations

import argparse
import logging
import sys


class _Below(logging.Filter):
    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < self.level


def notes_to_stdout(names: tuple[str, ...] = ("lightning.pytorch", "lightning.fabric")) -> None:
    """INFO records of ``names`` to stdout, WARNING and above to stderr (idempotent)."""
    # Lightning attaches a stderr handler to these loggers when it is first imported: import it
    # now, so that a command importing it later does not print every note twice (once to each
    # stream) and a failing command's stderr keeps only its error line.
    import lightning.fabric  # noqa: F401
    import lightning.pytorch  # noqa: F401

    for name in names:
        logger = logging.getLogger(name)
        if getattr(logger, "_twinflow_split", False):
            continue
        for handler in list(logger.handlers):
            if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr:
                logger.removeHandler(handler)
        out = logging.StreamHandler(sys.stdout)
        out.addFilter(_Below(logging.WARNING))
        err = logging.StreamHandler(sys.stderr)
        err.setLevel(logging.WARNING)
        logger.addHandler(out)
        logger.addHandler(err)
        logger._twinflow_split = True


class OneLineParser(argparse.ArgumentParser):
    """``argparse`` whose errors are one line: ``error: <what> (see `<prog> --help`)``."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


__all__ = ["OneLineParser", "notes_to_stdout"]
