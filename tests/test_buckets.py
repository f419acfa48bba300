"""Aspect buckets and the resumable single-bucket batch stream."""

import pytest
import torch

from twinflow.data.buckets import BucketBatchStream, check_buckets, nearest_bucket


def test_nearest_bucket_by_log_aspect():
    buckets = [(512, 512), (384, 672), (672, 384)]
    assert nearest_bucket(1000, 1000, buckets) == (512, 512)
    assert nearest_bucket(1920, 1080, buckets) == (384, 672)  # landscape: h < w
    assert nearest_bucket(1080, 1920, buckets) == (672, 384)
    # 2:1 and 1:2 are equally far from 1:1 in log space: a tie goes to the first listed
    assert nearest_bucket(200, 100, [(100, 100), (400, 100)]) == (100, 100)


def test_check_buckets_errors_are_one_line():
    assert check_buckets([[32, 48]], 16) == [(32, 48)]
    for bad, match in [([[30, 32]], "divisible by 16"), ([[32, 32], [32, 32]], "distinct"),
                       ([], "one or more"), ([[0, 32]], "positive")]:
        with pytest.raises(ValueError, match=match) as err:
            check_buckets(bad, 16)
        assert "\n" not in str(err.value)


def _stream(**kw):
    groups = [torch.arange(0, 10), torch.arange(10, 13), torch.arange(13, 20)]
    return BucketBatchStream(groups, 4, lambda idx, g: idx, seed=3, **kw)


def test_batches_hold_one_bucket_and_cover_each_epoch():
    stream = _stream()
    assert stream.steps_per_epoch == 2 + 0 + 1  # full batches only: 10//4 + 3//4 + 7//4
    seen = []
    for step in range(stream.steps_per_epoch):
        idx = stream.indices(step)
        bucket = {0 if i < 10 else 1 if i < 13 else 2 for i in idx.tolist()}
        assert len(idx) == 4 and len(bucket) == 1
        seen += idx.tolist()
    assert len(set(seen)) == 12  # no item twice within an epoch


def test_stream_resumes_exactly_and_ranks_split():
    full = iter(_stream())
    steps = [next(full) for _ in range(7)]
    resumed = iter(_stream(start_step=4))
    for k in range(4, 7):
        assert torch.equal(next(resumed), steps[k])
    r0 = _stream(rank=0, world_size=2).indices(5)
    r1 = _stream(rank=1, world_size=2).indices(5)
    assert torch.equal(torch.stack([r0, r1], 1).flatten(), steps[5])
    assert not torch.equal(_stream().indices(0), _stream().indices(3))  # reshuffled per epoch


def test_batch_larger_than_every_bucket_is_refused():
    with pytest.raises(ValueError, match="exceeds every bucket"):
        BucketBatchStream([torch.arange(3)], 4, lambda i, g: i)
