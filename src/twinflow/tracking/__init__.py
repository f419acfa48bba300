"""Experiment tracking: the project's one MLflow store, the logger, params, tags, reports."""

from twinflow.tracking.logger import MLFlowLogger
from twinflow.tracking.store import StoreError, open_store, store_uri

__all__ = ["MLFlowLogger", "StoreError", "open_store", "store_uri"]
