"""`twinflow rescore`: every metric for a finished demo's sample files, summary rewritten."""

import json

import numpy as np
import pytest

from twinflow.data.digits import load_mnist5k
from twinflow.viz import save_samples


def _write(path, images, labels):
    save_samples(path, images[..., None], [f"p{d}" for d in labels], labels)


def test_rescore_rewrites_the_summary_with_every_metric(tmp_path, capsys):
    from twinflow.judge.metrics import METRICS
    from twinflow.rescore import main

    held, train = load_mnist5k("heldout"), load_mnist5k("train")
    rows = np.concatenate([np.flatnonzero(held.labels == d)[:20] for d in range(10)])
    _write(tmp_path / "samples_multi.npz", held.images[rows], held.labels[rows])
    _write(tmp_path / "samples_nfe1.npz", train.images[::20], train.labels[::20])
    noise = np.random.default_rng(0).integers(0, 256, (200, 28, 28), dtype=np.uint8)
    _write(tmp_path / "samples_nfe2.npz", noise, train.labels[::20])
    old = {"rows": {"1 NFE": {"fd": 1.0}, "original, 32 NFE": {"fd": 1.0, "nfe": 32}},
           "timing_s": {"total": 123}, "objective": "twinflow"}
    (tmp_path / "summary.json").write_text(json.dumps(old))

    main([str(tmp_path)])
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["timing_s"] == {"total": 123} and summary["rescored"] is True
    assert list(summary["rows"]) == ["1 NFE", "2 NFE", "original, 32 NFE", "real train digits"]
    original = summary["rows"]["original, 32 NFE"]
    assert original["nfe"] == 32 and summary["per_digit"] == 20
    for key in (*METRICS, "fd_ratio", "fd_judge2_ratio", "fd_pixel_ratio", "recall_diff"):
        assert all(key in row for row in summary["rows"].values()), key
    assert original["fd_ratio"] == original["fd_pixel_ratio"] == 1.0
    assert original["recall_diff"] == 0.0
    noise_row, real_row = summary["rows"]["2 NFE"], summary["rows"]["1 NFE"]
    assert noise_row["fd_pixel_ratio"] > 5 * real_row["fd_pixel_ratio"]
    assert noise_row["recall_diff"] < -0.5 and noise_row["accuracy"] < 0.3
    table = (tmp_path / "summary.md").read_text()
    assert table == capsys.readouterr().out.split("\n", 1)[1]
    assert "| original, 32 NFE | " in table and "judge-2 FD / orig." in table

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SystemExit, match="lacks samples_nfe"):
        main([str(empty)])
    with pytest.raises(SystemExit, match="not a folder"):
        main([str(tmp_path / "summary.json")])
