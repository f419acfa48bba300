"""The MiniLM embedding cache: shards written once, shared by concurrent processes."""

import torch

from twinflow.data.text_encoder import MiniLMConditioner


def test_two_writers_keep_both_and_a_new_reader_sees_all(tmp_path):
    a, b = MiniLMConditioner(cache_dir=str(tmp_path)), MiniLMConditioner(cache_dir=str(tmp_path))
    ea = a.encode(["a handwritten seven"]).embeds
    eb = b.encode(["a handwritten two"]).embeds
    shards = sorted(tmp_path.glob("*.safetensors"))
    assert len(shards) == 2 and not list(tmp_path.glob(".*tmp"))
    fresh = MiniLMConditioner(cache_dir=str(tmp_path))
    fresh._encoder = None  # the cache must answer: no encoder may be needed
    got = fresh.encode(["a handwritten two", "a handwritten seven"]).embeds
    torch.testing.assert_close(got, torch.cat([eb, ea]))
    assert ea.shape == (1, 384) and torch.allclose(ea.norm(dim=-1), torch.ones(1))
