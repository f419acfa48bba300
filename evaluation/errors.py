"""Error type shared by every benchmark reader, writer and scorer."""

from __future__ import annotations


class BenchmarkInputError(ValueError):
    """Bad benchmark input: a missing file, a malformed row, a wrong path or an incomplete set.

    Messages are one line and name both the problem and the fix, so a failed `make eval`
    tells the operator what to do without reading a traceback.
    """
