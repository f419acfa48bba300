"""``twinflow prepare``: the latent cache is complete, resumable, shared, checked and counted."""

from __future__ import annotations

import os
import socket
import threading

import pytest
import torch

from twinflow.codec import VAECodec
from twinflow.data import prepare_cache as prep
from twinflow.data.latent_cache import CacheError, LatentCache, ShardLock, shard_path
from twinflow.text import SanaConditioner

BUCKETS = [[32, 32], [32, 48]]


@pytest.fixture(scope="module")
def parts(tiny_assets):
    root = str(tiny_assets / "sana")
    return (VAECodec(pretrained=root, family="sana", height=32, width=32),
            SanaConditioner(pretrained=root, max_length=16))


def _prepare(tiny_assets, cache, parts, **kw):
    codec, cond = parts
    kw.setdefault("shard_size", 16)
    return prep.prepare_cache(tiny_assets / "images", cache, codec, cond, BUCKETS,
                              progress=False, poll_s=0.05, **kw)


def test_cache_holds_latents_and_embeddings_of_every_usable_pair(tiny_assets, tmp_path, parts):
    codec, cond = parts
    summary = _prepare(tiny_assets, tmp_path / "c", parts)
    # 40 square + 10 landscape usable; the corrupt image and the uncaptioned one are counted
    assert summary.items == 50 and summary.buckets == {(32, 32): 40, (32, 48): 10}
    assert summary.skipped == {"unreadable_image": 1, "missing_caption": 1}
    assert "skipped 2 (missing_caption=1, unreadable_image=1)" in summary.line()
    assert (summary.written, summary.reused) == (4, 0)  # 52 scanned records / 16 per shard

    cache = LatentCache(tmp_path / "c")
    wide = [i for i, it in enumerate(cache.items) if it.bucket == (32, 48)][:2]
    z, c = cache.load(wide)
    assert z.shape == (2, 32, 8, 12) and c.embeds.shape[:1] == (2,) and c.mask is not None
    # The cached values are what the codec and conditioner give for the same inputs.
    from twinflow.data.image_text import decode_rgb, fit_to, scan_source

    records = {r.key: r for r in scan_source(tiny_assets / "images")[0]}
    item = cache.items[wide[0]]
    pixels = fit_to(decode_rgb(records[item.key].read()), 32, 48)
    torch.testing.assert_close(z[0], codec.encode(torch.from_numpy(pixels[None]))[0])
    ref = cond.encode([item.caption])
    n = int(ref.mask.sum())
    torch.testing.assert_close(c.embeds[0, :n], ref.embeds[0, :n])
    assert c.mask[0].sum() == n


def test_killed_prepare_resumes_with_the_missing_shards_only(tiny_assets, tmp_path, parts,
                                                              monkeypatch):
    real_write, calls = prep.write_shard, []

    def dies_after_two(root, index, *a):
        if len(calls) == 2:
            raise KeyboardInterrupt  # the process is killed mid-prepare
        calls.append(index)
        real_write(root, index, *a)

    monkeypatch.setattr(prep, "write_shard", dies_after_two)
    with pytest.raises(KeyboardInterrupt):
        _prepare(tiny_assets, tmp_path / "c", parts)
    with pytest.raises(CacheError, match="incomplete \\(2 of 4 shards\\)"):
        LatentCache(tmp_path / "c")
    assert not list((tmp_path / "c").glob("*.lock")) and not list((tmp_path / "c").glob(".*tmp"))
    monkeypatch.setattr(prep, "write_shard", real_write)
    summary = _prepare(tiny_assets, tmp_path / "c", parts)
    assert (summary.written, summary.reused, summary.items) == (2, 2, 50)


def test_two_preparers_split_the_shards(tiny_assets, tmp_path, parts, monkeypatch):
    real_write, writes = prep.write_shard, []
    monkeypatch.setattr(prep, "write_shard", lambda root, i, *a: (writes.append(i),
                                                                 real_write(root, i, *a)))
    results = []
    threads = [threading.Thread(target=lambda: results.append(
        _prepare(tiny_assets, tmp_path / "c", parts, shard_size=4))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(writes) == list(range(13))  # every shard written exactly once
    assert [r.items for r in results] == [50, 50]
    assert sum(r.written for r in results) == 13


def test_stale_and_live_locks(tmp_path):
    lock = ShardLock(tmp_path, 0)
    lock.path.write_text(f"{socket.gethostname()} 999999999\n")  # a dead process of this host
    assert lock.acquire()
    other = ShardLock(tmp_path, 0)
    assert not other.acquire()  # held by us, alive
    lock.release()
    other.path.write_text("another-host 1\n")
    assert not other.acquire()  # another host's fresh claim is respected
    old = os.stat(other.path).st_mtime - 2 * 600
    os.utime(other.path, (old, old))
    assert other.acquire()  # untouched for too long: its holder is gone


def test_settings_change_refuses_the_old_cache(tiny_assets, tmp_path, parts):
    _prepare(tiny_assets, tmp_path / "c", parts)
    codec, cond = parts
    other = SanaConditioner(pretrained=str(tiny_assets / "sana"), max_length=8)
    with pytest.raises(CacheError, match="conditioner differ") as err:
        prep.prepare_cache(tiny_assets / "images", tmp_path / "c", codec, other, BUCKETS,
                           shard_size=16, progress=False)
    assert "\n" not in str(err.value) and "cache_dir" in str(err.value)
    with pytest.raises(CacheError, match="buckets differ"):
        LatentCache(tmp_path / "c", prep.fingerprint(tiny_assets / "images", [(32, 32)],
                                                     codec, cond))
    with pytest.raises(CacheError, match="another listing"):
        _prepare(tiny_assets, tmp_path / "c", parts, shard_size=8)
    assert shard_path(tmp_path / "c", 3).is_file()  # nothing was deleted


def test_missing_cache_names_the_command(tmp_path):
    with pytest.raises(CacheError, match="run `twinflow prepare") as err:
        LatentCache(tmp_path / "nope")
    assert "\n" not in str(err.value)
