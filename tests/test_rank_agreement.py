"""Ranks agree on a decision: one rank's flag reaches every rank (2 CPU ranks over gloo)."""

from __future__ import annotations

import socket

import torch.distributed as dist
import torch.multiprocessing as mp

from twinflow.rank_agreement import any_rank


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank(rank: int, port: int, flags: list[list[bool]], out) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=2)
    try:
        out.put((rank, [any_rank(row[rank]) for row in flags]))
    finally:
        dist.destroy_process_group()


def test_outside_a_process_group_the_flag_is_its_own_answer():
    assert any_rank(True) is True and any_rank(False) is False


def test_one_rank_s_flag_reaches_both_ranks():
    flags = [[False, False], [False, True], [True, False], [True, True]]
    ctx = mp.get_context("spawn")
    out = ctx.SimpleQueue()
    port = _free_port()
    procs = [ctx.Process(target=_rank, args=(r, port, flags, out)) for r in range(2)]
    for p in procs:
        p.start()
    results = dict(out.get() for _ in procs)
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert results[0] == results[1] == [False, True, True, True]
