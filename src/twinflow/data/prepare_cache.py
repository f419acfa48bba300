"""Encode an image-caption source once into a :mod:`latent cache <twinflow.data.latent_cache>`.

``prepare_cache`` scans the source, plans fixed shards of ``shard_size`` records, and for
every shard not yet on disk decodes the images (skipping and counting unreadable ones), fits
each to its aspect bucket, encodes latents with the codec and captions with the conditioner,
and writes the shard.  Killed, it resumes; run twice at once, the runs share the work.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from twinflow.codec import Codec
from twinflow.data.buckets import Bucket, check_buckets, nearest_bucket
from twinflow.data.image_text import Record, UnreadableImage, decode_rgb, fit_to, scan_source
from twinflow.data.latent_cache import (
    CACHE_VERSION,
    CacheError,
    ShardLock,
    fingerprint_mismatch,
    shard_path,
    write_json,
    write_null,
    write_shard,
)
from twinflow.data.text_encoder import PromptConditioner

_NOT_SETTINGS = {"height", "width", "device"}  # change nothing in the cached values


def describe(part: Any) -> dict[str, Any]:
    """Class and plain-valued public settings of a codec or conditioner (for fingerprints)."""
    out: dict[str, Any] = {"class": f"{type(part).__module__}.{type(part).__qualname__}"}
    for name, value in sorted(vars(part).items()):
        if name.startswith("_") or name in _NOT_SETTINGS:
            continue
        if isinstance(value, torch.dtype):
            value = str(value)
        if value is None or isinstance(value, (str, int, float, bool, list, tuple, dict)):
            out[name] = value if not isinstance(value, tuple) else list(value)
    return out


def fingerprint(source: str | Path, buckets: list[Bucket], codec: Any, conditioner: Any) -> dict:
    return {
        "source": str(Path(source).expanduser().resolve()),
        "buckets": [list(b) for b in buckets],
        "codec": describe(codec),
        "conditioner": describe(conditioner),
    }


@dataclass
class PrepareSummary:
    root: Path
    items: int = 0
    written: int = 0
    reused: int = 0
    buckets: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)

    def line(self) -> str:
        sizes = ", ".join(f"{h}x{w}: {n}" for (h, w), n in sorted(self.buckets.items()))
        text = (f"prepared {self.items} items at {self.root} ({self.written} shards written, "
                f"{self.reused} already there; buckets {sizes})")
        if self.skipped:
            reasons = ", ".join(f"{k}={v}" for k, v in sorted(self.skipped.items()))
            text += f"; skipped {sum(self.skipped.values())} ({reasons})"
        return text


def _plan(root: Path, records: list[Record], shard_size: int, info: dict) -> int:
    """Write ``cache.json`` for a new cache, or check an existing one; the shard count."""
    digest = hashlib.sha256("\n".join(f"{r.key}\t{r.caption}" for r in records).encode())
    plan = {**info, "version": CACHE_VERSION, "records": len(records),
            "records_digest": digest.hexdigest(), "shard_size": shard_size,
            "num_shards": -(-len(records) // shard_size)}
    path = root / "cache.json"
    if path.is_file():
        old = json.loads(path.read_text())
        if old.get("fingerprint") != plan["fingerprint"]:
            raise CacheError(fingerprint_mismatch(root, old.get("fingerprint"),
                                                  plan["fingerprint"]))
        if any(old.get(k) != plan[k] for k in ("version", "records_digest", "shard_size")):
            raise CacheError(f"cache at {root} was planned from another listing of the source "
                             "(files added, removed or renamed, or another shard_size): delete "
                             "it or set data.cache_dir to a new folder")
        return int(old["num_shards"])
    root.mkdir(parents=True, exist_ok=True)
    write_json(path, plan)
    return plan["num_shards"]


def _encode_shard(
    records: list[Record], buckets: list[Bucket], codec: Codec, conditioner: PromptConditioner,
    encode_batch: int, device: torch.device, lock: ShardLock,
) -> tuple[list[dict], list[torch.Tensor], list[Any], Counter]:
    skipped: Counter = Counter()
    kept: list[tuple[Record, Bucket, np.ndarray]] = []
    for rec in records:
        try:
            image = decode_rgb(rec.read())
        except OSError:
            skipped["missing_image"] += 1
            continue
        except UnreadableImage:
            skipped["unreadable_image"] += 1
            continue
        bucket = nearest_bucket(image.width, image.height, buckets)
        kept.append((rec, bucket, fit_to(image, *bucket)))
    latents: list[torch.Tensor | None] = [None] * len(kept)
    for bucket in buckets:
        rows = [i for i, (_, b, _) in enumerate(kept) if b == bucket]
        for start in range(0, len(rows), encode_batch):
            part = rows[start : start + encode_batch]
            pixels = torch.from_numpy(np.stack([kept[i][2] for i in part])).to(device)
            for i, z in zip(part, codec.encode(pixels).float().cpu()):
                latents[i] = z
            lock.touch()
    conds = []
    for start in range(0, len(kept), encode_batch):
        cond = conditioner.encode([rec.caption for rec, _, _ in kept[start : start + encode_batch]])
        conds.extend(cond.to("cpu").index(slice(i, i + 1)) for i in range(len(cond)))
        lock.touch()
    items = [{"key": r.key, "caption": r.caption, "bucket": list(b)} for r, b, _ in kept]
    return items, latents, conds, skipped  # type: ignore[return-value]


def prepare_cache(
    source: str | Path,
    root: str | Path,
    codec: Codec,
    conditioner: PromptConditioner,
    buckets: list[list[int]],
    shard_size: int = 256,
    encode_batch: int = 8,
    device: str | torch.device = "cpu",
    progress: bool = True,
    poll_s: float = 1.0,
) -> PrepareSummary:
    """Fill the cache at ``root`` from ``source``; returns what was done (see ``line()``)."""
    from tqdm import tqdm

    if shard_size < 1 or encode_batch < 1:
        raise ValueError("data.shard_size and encode_batch must be >= 1")
    multiple = int(getattr(codec, "downsample", 1))
    sizes = check_buckets(buckets, multiple)
    root = Path(root)
    records, report = scan_source(source)
    info = {"fingerprint": fingerprint(source, sizes, codec, conditioner),
            "scan_skipped": dict(report.skipped)}
    n_shards = _plan(root, records, shard_size, info)
    summary = PrepareSummary(root, skipped=Counter(report.skipped))
    if not (root / "null.safetensors").is_file():
        write_null(root, conditioner.null().to("cpu"))
    bar = tqdm(total=len(records), unit="img", desc="prepare", disable=not progress,
               file=sys.stderr, dynamic_ncols=True)
    pending = list(range(n_shards))
    written_here: set[int] = set()
    while pending:
        waiting = []
        for s in pending:
            part = records[s * shard_size : (s + 1) * shard_size]
            if shard_path(root, s).is_file():
                bar.update(len(part))
                continue
            lock = ShardLock(root, s)
            if not lock.acquire():
                waiting.append(s)  # another process is writing it
                continue
            try:
                if not shard_path(root, s).is_file():  # finished while we claimed it
                    items, z, conds, skipped = _encode_shard(
                        part, sizes, codec, conditioner, encode_batch, torch.device(device), lock
                    )
                    write_shard(root, s, items, z, conds, dict(skipped))
                    written_here.add(s)
            finally:
                lock.release()
            bar.update(len(part))
        pending = waiting
        if pending:
            time.sleep(poll_s)
    bar.close()
    from twinflow.data.latent_cache import LatentCache

    cache = LatentCache(root)
    summary.items = len(cache.items)
    summary.written, summary.reused = len(written_here), n_shards - len(written_here)
    summary.buckets = Counter(item.bucket for item in cache.items)
    summary.skipped = Counter(cache.skipped)
    return summary
