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
    yield
