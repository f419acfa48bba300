"""Every shipped experiment and config piece parses and instantiates; bad keys fail clearly."""

import subprocess
import sys
from pathlib import Path

import pytest

from twinflow.lightning_cli import TwinFlowCLI
from twinflow.module import TwinFlowModule
from twinflow.objective import TwinFlowObjective

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = sorted((ROOT / "experiments").rglob("*.yaml"))
TRAINERS = sorted((ROOT / "configs/trainer").glob("*.yaml"))


def test_there_are_experiments():
    names = {p.stem for p in EXPERIMENTS}
    assert {"digits_fm", "digits_twinflow", "toy_gmm"} <= names


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_experiment_parses_and_instantiates(path, tmp_path, tiny_assets, monkeypatch):
    # The real backbone experiments read their paths from the environment; pointed at the
    # tiny checkpoints (same layout) they instantiate here.
    monkeypatch.setenv("TWINFLOW_TINY", str(tiny_assets))
    for var, family in [("TWINFLOW_QWEN_IMAGE", "qwen_image"), ("TWINFLOW_SANA_600M", "sana"),
                        ("TWINFLOW_SANA_1600M", "sana")]:
        monkeypatch.setenv(var, str(tiny_assets / family))
    monkeypatch.setenv("TWINFLOW_DATA", str(tiny_assets / "images"))
    # A GPU-only trainer (qwen_full's ZeRO-3) cannot be built on this CPU: the same file with
    # the trainer moved to one CPU process; the strategy itself is checked below.
    on_cpu = ["--trainer.accelerator", "cpu", "--trainer.devices", "1",
              "--trainer.precision", "32-true", "--trainer.strategy", "auto"]
    gpu_only = _trainer_of(path).get("accelerator") == "gpu"
    cli = TwinFlowCLI(
        args=[
            "--config",
            str(path),
            "--trainer.default_root_dir",
            str(tmp_path),
            "--trainer.logger",
            "false",
            *(on_cpu if gpu_only else []),
        ],
        run=False,
    )
    assert isinstance(cli.model, TwinFlowModule)
    assert isinstance(cli.model.objective, TwinFlowObjective)
    assert cli.model.model_config and "network" in cli.model.model_config


def _trainer_of(path: Path) -> dict:
    import yaml

    return yaml.safe_load(path.read_text()).get("trainer") or {}


def test_the_headline_command_trains_under_zero3():
    """``lightning fit --config experiments/qwen_full.yaml`` alone shards the 20B model: its
    accelerator, precision and strategy are the ``deepspeed_zero3.yaml`` piece's, key for key."""
    import yaml

    piece = yaml.safe_load((ROOT / "configs/trainer/deepspeed_zero3.yaml").read_text())
    trainer = _trainer_of(ROOT / "experiments/qwen_full.yaml")
    for key in ("accelerator", "devices", "precision", "strategy"):
        assert trainer.get(key) == piece[key], key
    assert trainer["strategy"]["init_args"]["stage"] == 3


@pytest.mark.parametrize("path", TRAINERS, ids=lambda p: p.stem)
def test_trainer_piece_merges_over_an_experiment(path, tmp_path, capsys):
    import yaml

    piece = yaml.safe_load(path.read_text())
    # --print_config resolves the merge without building a trainer (GPU pieces parse here too).
    with pytest.raises(SystemExit):
        TwinFlowCLI(
            args=[
                "fit",
                "--config",
                str(ROOT / "experiments/toy_gmm.yaml"),
                "--trainer",
                str(path),
                "--trainer.default_root_dir",
                str(tmp_path),
                "--print_config",
            ],
        )
    out = capsys.readouterr().out  # DeepSpeed may log a line to stdout on import: skip it
    out = "\n".join(ln for ln in out.splitlines() if not ln.startswith("[20"))
    merged = yaml.safe_load(out)["trainer"]

    def contains(big, small) -> bool:  # the piece's keys, recursively (a strategy gets defaults)
        if isinstance(small, dict):
            return isinstance(big, dict) and all(contains(big.get(k), v) for k, v in small.items())
        return big == small

    for key, value in piece.items():
        assert contains(merged[key], value), key
    assert merged["max_steps"] == 1500  # the experiment's own keys survive the merge


@pytest.mark.parametrize("name", ["twinflow", "rcgm", "flow_matching"])
def test_objective_switch_is_one_config_file(name, tmp_path):
    cli = TwinFlowCLI(
        args=[
            "--config",
            str(ROOT / "experiments/digits_twinflow.yaml"),
            "--model.objective",
            str(ROOT / f"configs/objective/{name}.yaml"),
            "--trainer.default_root_dir",
            str(tmp_path),
            "--trainer.logger",
            "false",
        ],
        run=False,
    )
    obj = cli.model.objective
    if name == "twinflow":
        assert obj.partition.adv > 0 and obj.rectify_weight > 0
    elif name == "rcgm":
        assert obj.partition.adv == 0 and obj.rectify_weight == 0 and obj.rcgm.order == 2
    else:
        assert obj.partition.shares == {"e2e": 0, "mul": 1, "any": 0, "adv": 0}
        assert obj.rcgm.order == 0 and obj.partition.mul_window == 0


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "twinflow.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_unknown_key_fails_at_once_with_one_line_naming_it(tmp_path):
    out = run_cli(
        "fit",
        "--config",
        "experiments/toy_gmm.yaml",
        "--model.ema_decy",
        "0.5",
        "--trainer.default_root_dir",
        str(tmp_path),
    )
    assert out.returncode == 2
    errors = [ln for ln in out.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "ema_decy" in errors[0]
    assert not (tmp_path / "checkpoints").exists()


def test_bad_value_fails_with_one_line_naming_it(tmp_path):
    out = run_cli(
        "fit",
        "--config",
        "experiments/toy_gmm.yaml",
        "--model.objective.init_args.partition.adv",
        "-1",
        "--trainer.default_root_dir",
        str(tmp_path),
    )
    assert out.returncode != 0
    errors = [ln for ln in out.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "shares must be >= 0" in errors[0]
    assert "Traceback" not in out.stderr


def test_every_recipe_sweep_variant_builds_an_objective():
    """Each sweep variant's objective config instantiates as the CLI would (jsonargparse)."""
    import importlib.util

    from jsonargparse import ArgumentParser

    from twinflow.objective import TwinFlowObjective

    spec = importlib.util.spec_from_file_location("recipe_sweep", "benchmarks/recipe_sweep.py")
    sweep = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sweep)

    def build(overrides: dict) -> TwinFlowObjective:
        parser = ArgumentParser(exit_on_error=False)
        parser.add_subclass_arguments(TwinFlowObjective, "objective")
        config = parser.parse_object({"objective": sweep.build_objective(overrides)})
        return parser.instantiate_classes(config).objective

    current = build({})
    assert current.guidance.ratio > 0 and current.time_sampler.kind == "logit_normal"
    reference = build(sweep.VARIANTS["reference"])
    assert reference.partition.adv == 0.25 and reference.time_sampler.kind == "uniform"
    assert reference.guidance.ratio == 0
    for overrides in sweep.VARIANTS.values():
        build(overrides)


def test_backbone_experiment_without_its_path_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("TWINFLOW_QWEN_IMAGE", raising=False)
    with pytest.raises(SystemExit, match="TWINFLOW_QWEN_IMAGE is not set") as err:
        TwinFlowCLI(args=["--config", str(ROOT / "experiments/qwen_lora.yaml"),
                          "--trainer.default_root_dir", str(tmp_path)], run=False)
    assert "\n" not in str(err.value) and "configs/paths" in str(err.value)


def test_prepare_reads_a_gpu_runs_config_on_a_cpu(tiny_assets, tmp_path, monkeypatch):
    """``twinflow prepare`` builds no GPU trainer: qwen_full's config, with its text encoder
    moved to the CPU, gets as far as its data source (here a missing one, refused with one
    line) on this CPU; left on ``cuda`` the encoder is refused first, also in one line."""
    from twinflow.prepare import main as prepare

    monkeypatch.setenv("TWINFLOW_QWEN_IMAGE", str(tiny_assets / "qwen_image"))
    monkeypatch.setenv("TWINFLOW_DATA", str(tmp_path / "no_images"))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    args = ["--config", str(ROOT / "experiments/qwen_full.yaml"), "--no-progress",
            "--data.cache_dir", str(tmp_path / "cache")]
    with pytest.raises(SystemExit, match="no_images: no such file or folder"):
        prepare([*args, "--model.conditioner.init_args.device", "cpu"])
    with pytest.raises(SystemExit, match="conditioner.init_args.device=cuda but this machine"):
        prepare(args)
    assert not (tmp_path / "cache").exists()
