"""`BenchmarkCallback` in tiny Lightning fits, the prompt subset, class_path configs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import lightning as L
import numpy as np
import pytest
from conftest import build_tiny_module
from PIL import Image

from evaluation.benchmarks import DigitsBenchmark, DPGBenchmark, PromptSubset
from evaluation.callbacks import BenchmarkCallback
from evaluation.dpg import load_dpg_prompts
from evaluation.dpg.graph import COLUMNS
from evaluation.errors import BenchmarkInputError


def test_prompt_subset_order_and_errors():
    keys = [str(i) for i in range(10)]
    assert PromptSubset.of().apply(keys, "b") == list(range(10))
    assert PromptSubset.of(limit=3).apply(keys, "b") == [0, 1, 2]
    assert PromptSubset.of(every=4).apply(keys, "b") == [0, 4, 8]
    assert PromptSubset.of(limit=2, every=3, ids=[9, 1, 2, 5]).apply(keys, "b") == [9, 5]
    assert PromptSubset.of(every=2, ids=["7"]).describe() == "ids=['7'],every=2"
    with pytest.raises(BenchmarkInputError, match=r"ids \['42'\]"):
        PromptSubset.of(ids=[42]).apply(keys, "b")
    with pytest.raises(BenchmarkInputError, match="limit"):
        PromptSubset.of(limit=0)


def trainer(root: Path, callback: BenchmarkCallback, steps: int, logger=False) -> L.Trainer:
    return L.Trainer(
        default_root_dir=root, accelerator="cpu", devices=1, max_steps=steps, logger=logger,
        callbacks=[callback], enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, limit_val_batches=0, num_sanity_val_steps=0,
    )


def datamodule():
    from twinflow.data.digits_datamodule import DigitsDataModule

    return DigitsDataModule(batch_size=8)


def test_callback_in_tiny_fit_logs_to_mlflow(tmp_path, digit_judge):
    from lightning.pytorch.loggers import MLFlowLogger
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    logger = MLFlowLogger(experiment_name="t", tracking_uri=uri,
                          artifact_location=str(tmp_path / "artifacts"))
    bench = DigitsBenchmark(per_digit=2, judge=digit_judge)
    callback = BenchmarkCallback(bench, nfes=[1, 2], every_n_steps=1, limit=10)
    trainer(tmp_path, callback, steps=2, logger=logger).fit(build_tiny_module(), datamodule())

    assert [(h["step"], h["nfe"]) for h in callback.history] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    for row in callback.history:
        prefix = f"digits/nfe{row['nfe']}"
        assert 0 <= row[f"{prefix}/overall"] <= 1 and row[f"{prefix}/fd"] > 0
        assert 0 <= row[f"{prefix}/digit_3"] <= 1
    out = tmp_path / "eval" / "digits" / "nfe2" / "step000002"
    assert len(list(out.glob("*/*.png"))) == 10 and (out / "grid.png").is_file()
    saved = json.loads((out / "result.json").read_text())
    assert saved["meta"]["subset"] == "limit=10" and saved["meta"]["nfe"] == 2

    client = MlflowClient(uri)
    history = client.get_metric_history(logger.run_id, "digits/nfe1/overall")
    assert sorted(m.step for m in history) == [1, 2]
    assert client.get_metric_history(logger.run_id, "digits/nfe2/digit_0")
    files = {f.path for f in client.list_artifacts(logger.run_id, "eval/digits/nfe1/step000002")}
    assert {f"eval/digits/nfe1/step000002/{n}" for n in
            ("result.json", "grid.png", "per_tag.json")} <= files


def test_missing_judge_path_fails_at_setup(tmp_path):
    bench = DPGBenchmark(vqa_path=str(tmp_path / "no_vqa"), dpg_csv=str(tmp_path / "x.csv"))
    trained = []

    class Spy(L.Callback):
        def on_train_batch_start(self, *args):
            trained.append(1)

    fit = trainer(tmp_path, BenchmarkCallback(bench, nfes=[1], limit=2), steps=2)
    fit.callbacks.append(Spy())
    with pytest.raises(BenchmarkInputError, match="no_vqa not found; fix --vqa-path") as err:
        fit.fit(build_tiny_module(), datamodule())
    assert "\n" not in str(err.value) and not trained


def test_wrong_image_size_fails_at_setup(tmp_path, digit_judge):
    module = build_tiny_module()
    object.__setattr__(module.codec, "height", 32)
    callback = BenchmarkCallback(DigitsBenchmark(per_digit=1, judge=digit_judge), nfes=[1])
    with pytest.raises(BenchmarkInputError, match="28x28"):
        trainer(tmp_path, callback, steps=1).fit(module, datamodule())


def write_graph(path: Path, item_ids: list[str]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for item in item_ids:
            writer.writerow([item, "t", "k", "1", "0", "entity", "whole", "entity - whole (cat)",
                             "Is there a cat?"])
            writer.writerow([item, "t", "k", "2", "1", "attribute", "color",
                             "attribute - color (cat, black)", "Is the cat black?"])
    return path


def test_dpg_with_tiny_vqa_judge_on_grey_model(tmp_path, benchmark_root, tiny_blip_vqa_dir):
    ids = [p.item_id for p in load_dpg_prompts(benchmark_root)[:2]]
    bench = DPGBenchmark(vqa_path=str(tiny_blip_vqa_dir),
                         dpg_csv=str(write_graph(tmp_path / "g.csv", ids)),
                         prompts_path=str(benchmark_root))
    callback = BenchmarkCallback(bench, nfes=[1], ids=ids, grid_per_tag=2)
    trainer(tmp_path, callback, steps=1).fit(build_tiny_module(), datamodule())
    (row,) = callback.history
    assert 0 <= row["dpg/nfe1/overall"] <= 100 and row["step"] == 1
    assert {"dpg/nfe1/L1/entity", "dpg/nfe1/L1/attribute"} <= set(row)
    out = tmp_path / "eval" / "dpg" / "nfe1" / "step000001"
    grid = np.asarray(Image.open(out / f"{ids[0]}.png"))
    assert grid.shape == (56, 56)  # a 2x2 grid of the 1-channel 28x28 tiles; judged as RGB
    result = json.loads((out / "result.json").read_text())
    assert result["meta"]["items"] == 2 and result["meta"]["judge"].startswith("vqa:")


def test_callback_config_is_class_path_friendly(tmp_path):
    from jsonargparse import ArgumentParser

    parser = ArgumentParser(exit_on_error=False)
    parser.add_class_arguments(BenchmarkCallback, "cb", fail_untyped=False)
    cfg = parser.parse_object({"cb": {
        "benchmark": {"class_path": "evaluation.benchmarks.DPGBenchmark",
                      "init_args": {"vqa_path": "/models/blip", "dpg_csv": "/data/dpg.csv"}},
        "nfes": [1, 4], "every_n_steps": 100, "every": 5,
    }})
    callback = parser.instantiate(cfg).cb
    assert isinstance(callback.benchmark, DPGBenchmark)
    assert callback.benchmark.vqa_path == "/models/blip" and callback.nfes == [1, 4]
    assert callback.subset == PromptSubset(every=5)
    with pytest.raises(BenchmarkInputError, match="nfes"):
        BenchmarkCallback(DigitsBenchmark(), nfes=[0])
    with pytest.raises(BenchmarkInputError, match="never runs"):
        BenchmarkCallback(DigitsBenchmark(), at_train_end=False)
