"""Training batches of cached latents and text embeddings from a user's image-caption data.

``twinflow prepare --config <experiment>`` fills ``cache_dir`` once with the model's own codec
and conditioner (see :mod:`twinflow.data.prepare_cache`); training then reads only the cache
and never loads the VAE or the text encoder.  Batches hold one aspect bucket each.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_info
from torch.utils.data import DataLoader

from twinflow.data.batch import Batch
from twinflow.data.buckets import bucket_loader, check_buckets
from twinflow.data.latent_cache import LatentCache
from twinflow.data.prepare_cache import PrepareSummary, fingerprint, prepare_cache


class ImageTextDataModule(L.LightningDataModule):
    """Cached image-caption batches (:class:`Batch` of latents ``(B, C, h, w)``).

    Args:
        source: a folder of images with same-name ``.txt`` captions, a ``.jsonl``/``.csv``
            manifest, a ``.parquet`` file, or webdataset ``.tar`` shards (a glob).
        cache_dir: where ``twinflow prepare`` writes latents and embeddings.
        buckets: ``[[height, width], ...]`` image sizes; each image goes to the closest
            aspect ratio, resized to cover it and center-cropped.
        batch_size: global batch size (one bucket per batch).
        val_size: items held out (a seeded draw) for validation losses; 0 = no validation.
        seed: data order seed.
        shard_size, encode_batch: records per cache shard, images/captions per encoder call.
    """

    def __init__(
        self,
        source: str,
        cache_dir: str,
        buckets: list[list[int]] | None = None,
        batch_size: int = 8,
        val_size: int = 0,
        seed: int = 0,
        shard_size: int = 256,
        encode_batch: int = 8,
    ) -> None:
        super().__init__()
        if batch_size < 1 or val_size < 0:
            raise ValueError("data.batch_size must be >= 1 and data.val_size >= 0")
        self.source, self.cache_dir = source, cache_dir
        self.buckets = check_buckets(buckets or [[1024, 1024]])
        self.batch_size, self.val_size, self.seed = batch_size, val_size, seed
        self.shard_size, self.encode_batch = shard_size, encode_batch
        self.cache: LatentCache | None = None

    def prepare(self, codec: Any, conditioner: Any, device: str = "cpu",
                progress: bool = True) -> PrepareSummary:
        """Encode the source into ``cache_dir`` with the model's codec and conditioner."""
        return prepare_cache(self.source, self.cache_dir, codec, conditioner,
                             [list(b) for b in self.buckets], self.shard_size,
                             self.encode_batch, device, progress)

    def open_cache(self, module: Any = None) -> LatentCache:
        """The prepared cache, checked against ``module``'s codec and conditioner and against
        ``val_size``; a ``ValueError`` of one line names what is wrong (reads the manifest
        only, so the CLI calls it before a run starts)."""
        fp = None
        if module is not None and getattr(module, "conditioner", None) is not None:
            fp = fingerprint(self.source, self.buckets, module.codec, module.conditioner)
        # A cache made with another VAE, text encoder or buckets would train on wrong inputs.
        cache = LatentCache(self.cache_dir, fp)
        n = len(cache.items)
        if self.val_size >= n:
            raise ValueError(f"data.val_size={self.val_size} leaves no training items "
                             f"(the cache holds {n}); lower data.val_size")
        return cache

    def setup(self, stage: str | None = None) -> None:
        if self.cache is not None:
            return
        module = getattr(self.trainer, "lightning_module", None) if self.trainer else None
        self.cache = self.open_cache(module)
        n = len(self.cache.items)
        g = torch.Generator().manual_seed(self.seed)
        order = torch.randperm(n, generator=g)
        self.val_idx = sorted(order[: self.val_size].tolist())
        train = order[self.val_size :].tolist()
        groups: dict[tuple[int, int], list[int]] = defaultdict(list)
        for i in sorted(train):
            groups[self.cache.items[i].bucket].append(i)
        self.groups = {b: torch.tensor(ix) for b, ix in sorted(groups.items())}
        self.null_cond = self.cache.null()
        sizes = ", ".join(f"{h}x{w}: {len(ix)}" for (h, w), ix in self.groups.items())
        skipped = sum(self.cache.skipped.values())
        rank_zero_info(f"data: {len(train)} training items ({sizes}), {self.val_size} held "
                       f"out; {skipped} skipped at prepare {dict(self.cache.skipped)}")

    def _batch(self, idx: list[int]) -> Batch:
        x, cond = self.cache.load(idx)
        return Batch(x=x, cond=cond, null_cond=self.null_cond)

    def train_dataloader(self) -> DataLoader:
        return bucket_loader(self.trainer, list(self.groups.values()), self.batch_size,
                             lambda idx, g: self._batch(idx.tolist()), self.seed)

    def val_dataloader(self) -> DataLoader | list:
        if not self.val_idx:
            return []
        by_bucket: dict[tuple[int, int], list[int]] = defaultdict(list)
        for i in self.val_idx:
            by_bucket[self.cache.items[i].bucket].append(i)
        # Full batches of one rank's share only: under ZeRO-3 every rank must run the same
        # forward passes, and the objective's passes depend on the batch size.
        world = self.trainer.world_size if self.trainer is not None else 1
        size = max(1, self.batch_size // world)
        batches = [
            self._batch(ix[s : s + size])
            for _, ix in sorted(by_bucket.items())
            for s in range(0, len(ix) - size + 1, size)
        ]
        return DataLoader(batches, batch_size=None)
