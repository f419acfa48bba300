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
import os
import struct
import tarfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache, partial
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
MANIFEST_SUFFIXES = (".jsonl", ".csv")
KINDS = "a folder, a .jsonl/.csv manifest, a .parquet file, a .tar shard or a glob of .tar shards"
NEED = "an `image` column and a `caption` (or `text`) column"
PARQUET_BATCH = 64  # rows per batch when streaming a parquet row group
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


def _read_span(path: Path, offset: int, size: int) -> bytes:
    with open(path, "rb") as f:  # an uncompressed tar member is a plain byte span
        f.seek(offset)
        data = f.read(size)
    if len(data) != size:
        raise OSError(f"{path}: truncated at byte {offset + len(data)}, member needs {size}")
    return data


@lru_cache(maxsize=2)
def _parquet_batch(path: Path, mtime_ns: int, group: int, batch: int) -> list:
    import pyarrow.parquet as pq

    batches = pq.ParquetFile(path).iter_batches(PARQUET_BATCH, [group], columns=["image"])
    values = next(islice(batches, batch, None), None)
    if values is None:
        raise OSError(f"{path}: row group {group} has no batch {batch}; the file changed")
    return values.column(0).to_pylist()


def _read_parquet(path: Path, group: int, batch: int, row: int) -> bytes:
    value = _parquet_batch(path, os.stat(path).st_mtime_ns, group, batch)[row]
    return value["bytes"] if isinstance(value, dict) else value


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


def _scan_parquet(path: Path, records: list, report: ScanReport) -> None:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as e:  # pyarrow raises ArrowInvalid and friends
        raise ValueError(f"{path}: not a readable parquet file ({' '.join(str(e).split())})") from e
    names = pf.schema_arrow.names
    text = "caption" if "caption" in names else "text"
    if "image" not in names or text not in names:
        raise ValueError(f"{path}: a parquet source needs {NEED}; it has {names}, rename them")
    index = 0
    for group in range(pf.num_row_groups):
        captions = iter(pf.read_row_group(group, columns=[text]).column(0).to_pylist())
        images = pf.iter_batches(PARQUET_BATCH, row_groups=[group], columns=["image"])
        for b, batch in enumerate(images):  # one batch of image bytes in memory at a time
            for row, value in enumerate(batch.column(0).to_pylist()):
                file = value.get("path") if isinstance(value, dict) else value
                if isinstance(value, bytes) or (isinstance(value, dict) and value.get("bytes")):
                    read = partial(_read_parquet, path, group, b, row)
                else:
                    read = _file(path.parent / file) if isinstance(file, str) and file else None
                _add(records, report, f"{path.name}:{index}", next(captions), read)
                index += 1


def _scan_tar(path: Path, name: str, records: list, report: ScanReport) -> None:
    """Group members by webdataset key: ``dir/abc.seg.png`` is key ``dir/abc``, ext ``seg.png``."""
    groups: dict[str, dict[str, Any]] = {}  # key -> txt/json bytes, image (offset, size)
    try:
        with tarfile.open(path, "r:") as tar:
            for info in filter(tarfile.TarInfo.isreg, tar):
                folder, _, base = info.name.removeprefix("./").rpartition("/")
                key, _, ext = base.partition(".")
                members = groups.setdefault(f"{folder}/{key}" if folder else key, {})
                if ext.lower() in ("txt", "json"):
                    members[ext.lower()] = tar.extractfile(info).read()
                elif "." + ext.lower() in IMAGE_SUFFIXES:
                    members.setdefault("image", (info.offset_data, info.size))
    except tarfile.ReadError as e:
        msg = f"{path}: not an uncompressed tar ({e}); re-tar it without compression"
        raise ValueError(msg) from e
    for key, members in groups.items():
        caption = members["txt"].decode("utf-8", errors="replace") if "txt" in members else None
        if caption is None and "json" in members:
            try:
                meta = json.loads(members["json"])
            except (json.JSONDecodeError, UnicodeDecodeError):
                meta = None
            caption = _caption(meta) if isinstance(meta, dict) else _BAD_ROW
        read = partial(_read_span, path, *members["image"]) if "image" in members else None
        _add(records, report, f"{name}:{key}", caption, read)


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
    path, report, records = Path(source), ScanReport(str(source)), []
    kind = path.suffix.lower() if path.is_file() else ""
    if path.is_dir():
        _scan_folder(path, records, report)
    elif kind in MANIFEST_SUFFIXES:
        _scan_manifest(path, records, report)
    elif kind == ".parquet":
        _scan_parquet(path, records, report)
    elif kind == ".tar":
        _scan_tar(path, path.name, records, report)
    elif path.exists():
        raise ValueError(f"{path}: unknown source kind; expected {KINDS}")
    elif _magic(str(source)):
        shards = sorted(Path(p) for p in glob.glob(str(source)) if p.endswith(".tar"))
        shards = [p for p in shards if p.is_file()]
        if not shards:
            raise ValueError(f"{source}: this glob matches no .tar shard files; fix the pattern")
        base = next(p for p in [path, *path.parents] if not _magic(str(p)))
        for shard in shards:
            _scan_tar(shard, shard.relative_to(base).as_posix(), records, report)
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


COLOURS = {
    "red": (220, 40, 40),
    "green": (40, 180, 60),
    "blue": (40, 80, 220),
    "yellow": (235, 210, 40),
    "purple": (150, 60, 190),
}
SHAPES = ("circle", "square", "triangle")


def write_tiny_image_caption_folder(
    path: str | Path, n: int = 32, size: int = 32, seed: int = 0
) -> Path:
    """Write ``n`` PNGs of a coloured shape on a grey background, each with a caption file.

    Captions read ``a red circle``; shape, colour, position and scale are drawn from
    ``seed``, so the same arguments give the same files.  Returns the folder.
    """
    if n < 1 or size < 8:
        raise ValueError(f"tiny image folder needs n >= 1 and size >= 8, got n={n}, size={size}")
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    names = list(COLOURS)
    for i in range(n):
        colour, shape = names[rng.integers(len(names))], SHAPES[rng.integers(len(SHAPES))]
        r = size * rng.uniform(0.2, 0.35)
        cx, cy = rng.uniform(r, size - r, size=2)
        im = Image.new("RGB", (size, size), (128, 128, 128))
        draw = ImageDraw.Draw(im)
        box = (cx - r, cy - r, cx + r, cy + r)
        if shape == "circle":
            draw.ellipse(box, fill=COLOURS[colour])
        elif shape == "square":
            draw.rectangle(box, fill=COLOURS[colour])
        else:
            draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=COLOURS[colour])
        im.save(root / f"{i:05d}.png")
        (root / f"{i:05d}.txt").write_text(f"a {colour} {shape}\n", encoding="utf-8")
    return root
