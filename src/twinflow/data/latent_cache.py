"""An on-disk cache of VAE latents and text embeddings, in shards written once.

Layout of a cache folder::

    cache.json                  fingerprint (source, codec, conditioner, buckets) and plan
    null.safetensors            the empty prompt's conditioning: embeds (1, L, D), mask (1, L)
    shard-00000.safetensors     per item i: latents.i (C, h, w), embeds.i (L_i, D), mask.i (L_i,)
    shard-00000.lock            present only while a process writes that shard

Every shard is written to a temporary file and renamed into place, so a shard file is
either complete or absent: a killed ``prepare`` resumes where it stopped, and two processes
preparing the same cache split the shards between them through the lock files (a process
claims a shard by creating its lock exclusively and refreshes the lock's time while it
works; a lock untouched for ``STALE_AFTER_S`` belongs to a dead process and is taken over).
Token embeddings are stored up to the last kept token only and padded back on load.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from twinflow.file_modes import honour_umask
from twinflow.networks.contract import Conditioning

CACHE_VERSION = 1
STALE_AFTER_S = 600.0


class CacheError(ValueError):
    """A cache folder that is missing, incomplete or made from other settings."""


def shard_path(root: Path, index: int) -> Path:
    return root / f"shard-{index:05d}.safetensors"


def temp_name(path: Path) -> Path:
    """A name beside ``path`` no other writer uses: host, process and thread in it (two
    preparers in one process once shared a name, and one's rename failed)."""
    who = f"{socket.gethostname()}.{os.getpid()}.{threading.get_ident()}"
    return path.with_name(f".{path.name}.{who}.tmp")


def _atomic_save(tensors: dict[str, torch.Tensor], path: Path, metadata: dict[str, str]) -> None:
    tmp = temp_name(path)
    save_file({k: v.contiguous() for k, v in tensors.items()}, tmp, metadata=metadata)
    honour_umask(tmp)  # safetensors makes 0600
    tmp.replace(path)


def write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = temp_name(path)
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    tmp.replace(path)


class ShardLock:
    """An exclusive claim on one shard, held through a lock file next to it."""

    def __init__(self, root: Path, index: int) -> None:
        self.path = root / f"shard-{index:05d}.lock"

    def acquire(self) -> bool:
        """Claim the shard; ``False`` if a live process holds it."""
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if not self.stale():
                    return False
                self.path.unlink(missing_ok=True)  # a dead holder's claim: take it over
                continue
            with os.fdopen(fd, "w") as f:
                f.write(f"{socket.gethostname()} {os.getpid()}\n")
            return True
        return False

    def stale(self) -> bool:
        try:
            host, pid = self.path.read_text().split()
            age = time.time() - self.path.stat().st_mtime
        except (OSError, ValueError):
            return False  # being written right now, or just removed
        if host == socket.gethostname() and not process_alive(int(pid)):
            return True
        return age > STALE_AFTER_S

    def touch(self) -> None:
        """Tell other processes the holder is alive."""
        self.path.touch(exist_ok=True)

    def release(self) -> None:
        self.path.unlink(missing_ok=True)


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host still runs."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_shard(
    root: Path,
    index: int,
    items: list[dict[str, Any]],
    latents: list[torch.Tensor],
    conds: list[Conditioning],
    skipped: dict[str, int],
) -> None:
    """Write shard ``index``: ``items[i]`` metadata (key, caption, bucket), ``latents[i]``
    ``(C, h, w)`` and ``conds[i]`` (one row, token embeddings ``(1, L, D)`` with mask)."""
    tensors: dict[str, torch.Tensor] = {}
    for i, (z, c) in enumerate(zip(latents, conds)):
        tensors[f"latents.{i}"] = z
        embeds = c.embeds[0]
        if c.mask is None:
            tensors[f"embeds.{i}"] = embeds
            continue
        mask = c.mask[0]
        keep = int(mask.nonzero().max()) + 1 if mask.any() else 1
        tensors[f"embeds.{i}"], tensors[f"mask.{i}"] = embeds[:keep], mask[:keep]
    meta = {"items": json.dumps(items), "skipped": json.dumps(skipped)}
    _atomic_save(tensors, shard_path(root, index), meta)


def write_null(root: Path, cond: Conditioning) -> None:
    tensors = {"embeds": cond.embeds[:1]}
    if cond.mask is not None:
        tensors["mask"] = cond.mask[:1]
    _atomic_save(tensors, root / "null.safetensors", {})


@dataclass
class CachedItem:
    shard: int
    row: int
    key: str
    caption: str
    bucket: tuple[int, int]  # (height, width) of the image the latents encode


class LatentCache:
    """Read side of a complete cache folder.

    Raises:
        CacheError: the folder has no ``cache.json``, misses shards, or ``fingerprint`` (when
            given) differs from the one it was prepared with.
    """

    def __init__(self, root: str | Path, fingerprint: dict[str, Any] | None = None) -> None:
        self.root = Path(root)
        info_file = self.root / "cache.json"
        if not info_file.is_file():
            raise CacheError(f"no prepared cache at {self.root}: run `twinflow prepare "
                             "--config <experiment>` first")
        self.info = json.loads(info_file.read_text())
        if fingerprint is not None and self.info.get("fingerprint") != fingerprint:
            raise CacheError(fingerprint_mismatch(self.root, self.info.get("fingerprint"),
                                                  fingerprint))
        n = int(self.info["num_shards"])
        missing = [i for i in range(n) if not shard_path(self.root, i).is_file()]
        if missing or not (self.root / "null.safetensors").is_file():
            raise CacheError(f"cache at {self.root} is incomplete ({n - len(missing)} of {n} "
                             "shards): run `twinflow prepare --config <experiment>` to finish it")
        self.items: list[CachedItem] = []
        self.skipped: dict[str, int] = dict(self.info.get("scan_skipped", {}))
        for s in range(n):
            with safe_open(shard_path(self.root, s), "pt") as f:
                meta = f.metadata()
            for row, item in enumerate(json.loads(meta["items"])):
                self.items.append(CachedItem(s, row, item["key"], item["caption"],
                                             tuple(item["bucket"])))
            for reason, count in json.loads(meta["skipped"]).items():
                self.skipped[reason] = self.skipped.get(reason, 0) + count
        if not self.items:
            raise CacheError(f"cache at {self.root} holds no items (every image was skipped)")

    def null(self) -> Conditioning:
        with safe_open(self.root / "null.safetensors", "pt") as f:
            names = set(f.keys())
            mask = f.get_tensor("mask") if "mask" in names else None
            return Conditioning(f.get_tensor("embeds"), mask)

    def load(self, indices: list[int]) -> tuple[torch.Tensor, Conditioning]:
        """Items ``indices`` (one bucket): latents ``(B, C, h, w)`` and conditioning with token
        embeddings zero-padded to the longest, ``(B, L, D)`` and mask ``(B, L)``."""
        by_shard: dict[int, list[int]] = {}
        for i in indices:
            by_shard.setdefault(self.items[i].shard, []).append(i)
        latents, embeds, masks = {}, {}, {}
        for s, rows in by_shard.items():
            with safe_open(shard_path(self.root, s), "pt") as f:
                names = set(f.keys())
                for i in rows:
                    r = self.items[i].row
                    latents[i] = f.get_tensor(f"latents.{r}")
                    embeds[i] = f.get_tensor(f"embeds.{r}")
                    masks[i] = f.get_tensor(f"mask.{r}") if f"mask.{r}" in names else None
        z = torch.stack([latents[i] for i in indices])
        if masks[indices[0]] is None:
            return z, Conditioning(torch.stack([embeds[i] for i in indices]))
        rows = [Conditioning(embeds[i][None], masks[i][None]) for i in indices]
        return z, Conditioning.cat(rows)


def fingerprint_mismatch(root: Path, old: Any, new: dict[str, Any]) -> str:
    old = old or {}
    changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    return (f"cache at {root} was prepared with other settings ({', '.join(changed)} differ): "
            "delete that folder or set data.cache_dir to a new one, then run `twinflow prepare`")
