"""The project's one MLflow store: where it is, opening it safely, repairing moved artifacts.

Every fit, demo phase, ablation and evaluation of a project logs to one store, so the
dashboard shows them side by side: ``$MLFLOW_TRACKING_URI`` when set, else
``sqlite:///<cwd>/runs/mlflow.db`` with artifacts in ``runs/mlartifacts``.

MLflow records artifact locations as absolute paths.  :func:`relocate_artifacts` rewrites
them when the ``runs/`` folder (store and artifacts together) has been moved or copied, so
the Artifacts tab keeps resolving; :func:`open_store` runs it on every start.
"""

from __future__ import annotations

import fcntl
import os
import socket
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlflow import MlflowClient

STORE_NAME = "mlflow.db"
ARTIFACTS_NAME = "mlartifacts"


def default_store_dir() -> Path:
    return (Path.cwd() / "runs").resolve()


def store_uri() -> str:
    """``$MLFLOW_TRACKING_URI``, else the project's SQLite store."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{default_store_dir() / STORE_NAME}"


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (``None`` for servers and other stores)."""
    return Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None


def artifact_root(uri: str) -> str | None:
    """Artifacts beside a SQLite store (``<store dir>/mlartifacts``); servers choose their own."""
    path = sqlite_path(uri)
    return str(path.parent / ARTIFACTS_NAME) if path is not None else None


@contextmanager
def _locked(path: Path):
    """An exclusive lock beside the store: one process creates or migrates it at a time."""
    with open(path.with_name(path.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class StoreError(RuntimeError):
    """The tracking store cannot be used (one line naming the file and the fix)."""


def open_store(uri: str) -> None:
    """Create or migrate the store under a lock and repair moved artifact paths.

    Two fits starting at once no longer race in MLflow's schema migration; an unreadable or
    corrupt database is one line naming it, before any training.
    """
    path = sqlite_path(uri)
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _locked(path):
            if path.exists():
                _check_sqlite(path)
            from mlflow import MlflowClient

            client = MlflowClient(uri)
            client.search_experiments(max_results=1)  # creates / migrates
            hide_empty_default(client)
            relocate_artifacts(path)
    except StoreError:
        raise
    except OSError as err:
        raise StoreError(f"cannot write the MLflow store {path} ({err.strerror}); make its "
                         "folder writable or set MLFLOW_TRACKING_URI") from None
    except Exception as err:  # MLflow wraps SQLAlchemy's errors in several types
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise StoreError(f"cannot open the MLflow store {path} ({first[:200]}); move it "
                         "away to start a new one, or set MLFLOW_TRACKING_URI") from None


def hide_empty_default(client: MlflowClient) -> bool:
    """Delete (restorably) MLflow's "Default" experiment while it holds no run.

    Every run of this project is logged to a named experiment, so an empty "Default" is only
    noise in the dashboard's list.  One that holds runs is left alone; ``mlflow experiments
    restore --experiment-id 0`` brings it back.  Returns whether it was hidden now.
    """
    from mlflow.entities import LifecycleStage, ViewType
    from mlflow.exceptions import MlflowException

    try:
        default = client.get_experiment("0")
    except MlflowException:  # no experiment 0 in this store: nothing to hide
        return False
    if default is None or default.lifecycle_stage != LifecycleStage.ACTIVE:
        return False
    if client.search_runs(["0"], run_view_type=ViewType.ALL, max_results=1):
        return False
    client.delete_experiment("0")
    return True


def _check_sqlite(path: Path) -> None:
    if not os.access(path, os.R_OK | os.W_OK):
        raise StoreError(f"the MLflow store {path} is not readable and writable; fix its "
                         "permissions or set MLFLOW_TRACKING_URI")
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            db.execute("select count(*) from sqlite_master").fetchone()
    except sqlite3.DatabaseError as err:
        raise StoreError(f"{path} is not an MLflow store ({err}); move it away to start a "
                         "new one, or set MLFLOW_TRACKING_URI") from None


def relocate_artifacts(path: Path) -> int:
    """Point artifact locations recorded under another ``<dir>/mlartifacts`` at this store's.

    The store keeps its artifacts beside itself, so a location under some other
    ``mlartifacts`` folder means ``runs/`` was moved or copied: without the rewrite a moved
    store shows empty Artifacts tabs and a copied one logs into the original.  Locations
    elsewhere (a configured artifact root) are left alone.  Returns the rows rewritten.
    """
    here = str(path.parent / ARTIFACTS_NAME)
    changed = 0
    with sqlite3.connect(path) as db:
        tables = {r[0] for r in db.execute("select name from sqlite_master where type='table'")}
        for table, column, key in (("experiments", "artifact_location", "experiment_id"),
                                   ("runs", "artifact_uri", "run_uuid")):
            if table not in tables:
                continue
            for row_key, location in db.execute(f"select {key}, {column} from {table}").fetchall():
                new = _moved(location or "", here)
                if new is not None:
                    db.execute(f"update {table} set {column} = ? where {key} = ?", (new, row_key))
                    changed += 1
    return changed


def _moved(location: str, here: str) -> str | None:
    """``location`` re-rooted at ``here``, or ``None`` when it is already there or foreign."""
    scheme = "file://" if location.startswith("file://") else ""
    plain = location.removeprefix("file://").rstrip("/")
    marker = f"/{ARTIFACTS_NAME}"
    if plain == here or plain.startswith(here + "/"):
        return None
    if plain.endswith(marker):
        tail = ""
    elif marker + "/" in plain:
        tail = plain.split(marker + "/", 1)[1]
    else:
        return None
    return scheme + (f"{here}/{tail}" if tail else here)


def this_process() -> dict[str, str]:
    return {"twinflow.host": socket.gethostname(), "twinflow.pid": str(os.getpid())}


def end_stale_runs(uri: str, experiment_id: str, keep: str | None = None) -> list[str]:
    """Mark this host's ``RUNNING`` runs whose process is gone as ``KILLED`` (kill -9, OOM)."""
    from mlflow import MlflowClient

    from twinflow.data.latent_cache import process_alive

    client = MlflowClient(uri)
    host = socket.gethostname()
    ended = []
    for run in client.search_runs([experiment_id], "attributes.status = 'RUNNING'"):
        tags = run.data.tags
        pid = tags.get("twinflow.pid", "")
        if run.info.run_id == keep or tags.get("twinflow.host") != host or not pid.isdigit():
            continue
        if not process_alive(int(pid)):
            client.set_terminated(run.info.run_id, status="KILLED")
            ended.append(run.info.run_id)
    return ended


__all__ = ["StoreError", "artifact_root", "end_stale_runs", "hide_empty_default", "open_store",
           "relocate_artifacts", "sqlite_path", "store_uri", "this_process"]
