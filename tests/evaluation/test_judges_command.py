"""`twinflow judges` (run by `make setup`): the judges land in the cache; bad folder: one line."""

from __future__ import annotations

import os

import pytest

from twinflow.cli import main


def test_judges_command_finds_the_cache_it_fills(digit_judge, capsys):
    # digit_judge (session fixture) trained the judges into this session's $TWINFLOW_CACHE
    main(["judges"])
    out = capsys.readouterr().out
    assert f"digit judges ready in {os.environ['TWINFLOW_CACHE']}" in out
    assert "CPU precision: " in out


def test_judges_command_names_an_unwritable_cache(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(SystemExit) as stop:
        main(["judges", "--cache-dir", str(blocker / "cache")])
    assert str(stop.value).startswith(f"error: cannot write the judge cache in {blocker / 'cache'}")
    assert "writable folder" in str(stop.value)
