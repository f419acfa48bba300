"""Shared fixtures: an isolated cache folder and the shared benchmark root."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Text embeddings and the digit judge are cached per test session, never in $HOME."""
    if "TWINFLOW_CACHE" not in os.environ:
        os.environ["TWINFLOW_CACHE"] = str(tmp_path_factory.mktemp("twinflow-cache"))
    # Fits log to the project's one MLflow store (runs/mlflow.db under the working folder):
    # the tests' go to a store of their own, never into the checkout's runs/.
    if "MLFLOW_TRACKING_URI" not in os.environ:
        store = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{store}"
    yield


@pytest.fixture(scope="session")
def tiny_assets(tmp_path_factory) -> Path:
    """``twinflow tiny-assets`` output: tiny SANA and Qwen-Image checkpoints and images."""
    from twinflow.tiny_assets import write_tiny_images
    from twinflow.tiny_checkpoint import write_tiny_checkpoint

    root = tmp_path_factory.mktemp("tiny")
    for family in ("sana", "qwen_image"):
        write_tiny_checkpoint(family, root / family)
    write_tiny_images(root / "images")
    return root
