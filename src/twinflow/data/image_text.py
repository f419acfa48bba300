"""Image-caption pairs as users keep them, streamed: scanned for captions, images read lazily.

Sources (see :func:`scan_source`): a folder of images with same-name ``.txt`` captions; a
``.jsonl``/``.csv`` manifest; a ``.parquet`` file (raw bytes, Hugging Face ``{"bytes", "path"}``
structs or paths); an uncompressed webdataset ``.tar`` shard or a glob of them.  Unusable pairs
are counted by reason in a :class:`ScanReport`; each :class:`Record`'s ``read`` fetches encoded
bytes on demand and :func:`decode_rgb` / :func:`fit_to` make ``(H, W, 3)`` uint8 arrays of them.
"""

from __future__ import annotations

import csv
import glob
import io
import json
import struct
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
MANIFEST_SUFFIXES = (".jsonl", ".csv")
KINDS = "a folder, a .jsonl/.csv manifest, a .parquet file, a .tar shard or a glob of .tar shards"
NEED = "an `image` column and a `caption` (or `text`) column"
# what PIL raises on corrupt bytes (plus Image.DecompressionBombError, caught in decode_rgb)
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, IndexError, struct.error)
_BAD_ROW = object()  # caption of a malformed row (or tar .json)


@dataclass
class Record:
    """One image-caption pair found in a source.

    Attributes:
        key: unique within the source: the relative path (folder), ``manifest.jsonl:17`` (1-based
            line of the row), ``file.parquet:5`` (0-based row) or ``shard-000.tar:abc`` (tar path
            relative to the glob's folder, webdataset key).
        caption: stripped, non-empty.
        read: returns the encoded image bytes; raises ``OSError`` if the file vanished.  A
            picklable ``functools.partial`` holding no open file.
    """

    key: str
    caption: str
    read: Callable[[], bytes]


@dataclass
class ScanReport:
    """What scanning a source found.

    ``found`` counts candidates (images in a folder, manifest or parquet rows, tar keys),
    ``used`` the records returned, ``skipped`` maps reason -> count (``missing_caption``,
    ``empty_caption``, ``missing_image``, ``bad_row``).
    """

    source: str
    found: int = 0
    used: int = 0
    skipped: Counter = field(default_factory=Counter)

    def skip(self, reason: str) -> None:
        self.skipped[reason] += 1

    def summary(self) -> str:
        """One line, e.g. ``data/pets: 12 found, 10 used, skipped 2 (missing_caption=2)``."""
        total = sum(self.skipped.values())
        line = f"{self.source}: {self.found} found, {self.used} used"
        if total:
            reasons = ", ".join(f"{k}={v}" for k, v in sorted(self.skipped.items()))
            line += f", skipped {total} ({reasons})"
        return line


class UnreadableImage(ValueError):
    """Encoded bytes that do not decode to an image (corrupt, truncated, not an image, bomb)."""


def _add(records: list, report: ScanReport, key: str, caption: Any, read: Callable | None):
    """Count a candidate; keep it unless a bad row, lacking image or caption, or empty."""
    report.found += 1
    if caption is _BAD_ROW:
        report.skip("bad_row")
    elif read is None:
        report.skip("missing_image")
    elif caption is None:
        report.skip("missing_caption")
    elif not str(caption).strip():
        report.skip("empty_caption")
    else:
        records.append(Record(key, str(caption).strip(), read))


def _caption(row: dict) -> Any:
    return row["caption"] if row.get("caption") is not None else row.get("text")


def _file(path: Path) -> Callable | None:
    return partial(Path.read_bytes, path) if path.is_file() else None


def _scan_folder(root: Path, records: list, report: ScanReport) -> None:
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
        if path.is_file():
            txt = path.with_suffix(".txt")
            caption = txt.read_text(encoding="utf-8", errors="replace") if txt.is_file() else None
            _add(records, report, path.relative_to(root).as_posix(), caption, _file(path))


def _scan_manifest(path: Path, records: list, report: ScanReport) -> None:
    columns: set = set()
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as f:
        if path.suffix.lower() == ".csv":
            reader = csv.DictReader(f)
            columns = set(reader.fieldnames or ())
            if "image" not in columns or not columns & {"caption", "text"}:
                raise ValueError(f"{path}: a manifest needs {NEED}; its header has "
                                 f"{sorted(columns)}, rename them")
            rows: Any = ((reader.line_num, row) for row in reader)
        else:
            rows = ((n, line) for n, line in enumerate(f, 1) if line.strip())
        for n, row in rows:
            if isinstance(row, str):
                try:
                    row = json.loads(row)
                except json.JSONDecodeError:
                    row = None
            columns |= set(row) if isinstance(row, dict) else set()
            image = row.get("image") if isinstance(row, dict) else None
            if not image or not isinstance(image, str):
                _add(records, report, f"{path.name}:{n}", _BAD_ROW, None)
                continue
            _add(records, report, f"{path.name}:{n}", _caption(row), _file(path.parent / image))
    if columns and ("image" not in columns or not columns & {"caption", "text"}):
        raise ValueError(f"{path}: a manifest needs {NEED}; its rows have {sorted(columns)}")


def _magic(text: str) -> bool:
    return any(c in text for c in "*?[")


def scan_source(source: str | Path) -> tuple[list[Record], ScanReport]:
    """All usable records of a source, in a deterministic order, with skips counted.

    Images are not opened: a corrupt one surfaces later, in :func:`decode_rgb`.

    Returns:
        ``N`` records (folder files sorted by path, rows in file order, tar shards sorted and
        keys in member order) and the report (``found`` candidates, ``used == N``).

    Raises:
        ValueError: one line naming the path, if it does not exist, is of an unknown kind, lacks
            the required columns, or has no usable record.
    """
    from twinflow.data import archive_sources  # imports this module: loaded on first use

    path, report, records = Path(source), ScanReport(str(source)), []
    kind = path.suffix.lower() if path.is_file() else ""
    if path.is_dir():
        _scan_folder(path, records, report)
    elif kind in MANIFEST_SUFFIXES:
        _scan_manifest(path, records, report)
    elif kind == ".parquet":
        archive_sources.scan_parquet(path, records, report)
    elif kind == ".tar":
        archive_sources.scan_tar(path, path.name, records, report)
    elif path.exists():
        raise ValueError(f"{path}: unknown source kind; expected {KINDS}")
    elif _magic(str(source)):
        shards = sorted(Path(p) for p in glob.glob(str(source)) if p.endswith(".tar"))
        shards = [p for p in shards if p.is_file()]
        if not shards:
            raise ValueError(f"{source}: this glob matches no .tar shard files; fix the pattern")
        base = next(p for p in [path, *path.parents] if not _magic(str(p)))
        for shard in shards:
            archive_sources.scan_tar(shard, shard.relative_to(base).as_posix(), records, report)
    else:
        raise ValueError(f"{path}: no such file or folder; expected {KINDS}")
    report.used = len(records)
    if not records:
        raise ValueError(f"no usable image-caption pairs in {report.summary()}; fix the skips")
    return records, report


def decode_rgb(data: bytes) -> Image.Image:
    """Decoded, fully loaded RGB image of encoded ``data``; ``(W, H)`` as stored.

    Raises:
        UnreadableImage: one line, for corrupt, truncated or non-image bytes and for
            decompression bombs.
    """
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            return im.convert("RGB")
    except (*_DECODE_ERRORS, Image.DecompressionBombError) as e:
        why = " ".join(f"{type(e).__name__}: {e}".split())
        raise UnreadableImage(f"cannot decode {len(data)} image bytes ({why})") from e


def fit_to(image: Image.Image, height: int, width: int) -> np.ndarray:
    """``image`` resized to cover ``(height, width)`` keeping aspect (bicubic), center-cropped.

    Returns:
        ``(height, width, 3)`` uint8.
    """
    im = image.convert("RGB")
    scale = max(height / im.height, width / im.width)
    size = (max(width, round(im.width * scale)), max(height, round(im.height * scale)))
    if size != im.size:
        im = im.resize(size, Image.Resampling.BICUBIC)
    left, top = (size[0] - width) // 2, (size[1] - height) // 2
    im = im.crop((left, top, left + width, top + height))
    return np.asarray(im, dtype=np.uint8).copy()
