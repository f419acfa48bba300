"""Archive sources of image-caption pairs: parquet files and webdataset tar shards.

Scanned into :class:`~twinflow.data.image_text.Record` s like the folder and manifest
sources (see :func:`~twinflow.data.image_text.scan_source`); image bytes stay in the archive
until a record's ``read`` fetches them.
"""

from __future__ import annotations

import json
import os
import tarfile
from functools import lru_cache, partial
from itertools import islice
from pathlib import Path
from typing import Any

from twinflow.data.image_text import (
    _BAD_ROW,
    IMAGE_SUFFIXES,
    NEED,
    ScanReport,
    _add,
    _caption,
    _file,
)

PARQUET_BATCH = 64  # rows per batch when streaming a parquet row group


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


def scan_parquet(path: Path, records: list, report: ScanReport) -> None:
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


def scan_tar(path: Path, name: str, records: list, report: ScanReport) -> None:
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
