"""The command table: every subcommand resolves, unknown ones are one clear line."""

import importlib
import os
import subprocess
import sys

import pytest

from twinflow.cli import COMMANDS, main


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_a_main(name):
    module = importlib.import_module(COMMANDS[name][0])
    assert callable(module.main)


def test_unknown_command_is_one_line(capsys):
    with pytest.raises(SystemExit) as err:
        main(["fitt"])
    text = str(err.value)
    assert "unknown command 'fitt'" in text and "\n" not in text


def test_help_lists_every_command(capsys):
    main(["--help"])
    out = capsys.readouterr().out
    assert all(name in out for name in COMMANDS)


def test_subcommand_modules_do_not_import_the_table():
    """No import circle: the subcommands never import ``twinflow.cli`` back."""
    code = (
        "import sys, twinflow.demo, twinflow.sample, twinflow.lightning_cli; "
        "print('twinflow.cli' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_sample_checks_out_and_count_before_loading_the_model(tmp_path):
    from twinflow.sample import main as sample

    a_file = tmp_path / "taken.png"
    a_file.write_bytes(b"x")
    missing_model = str(tmp_path / "no-model")  # never reached: the checks come first
    with pytest.raises(SystemExit, match="is a file"):
        sample([missing_model, "--out", str(a_file)])
    assert a_file.read_bytes() == b"x"
    with pytest.raises(SystemExit, match="at most 100,000 per call"):
        sample([missing_model, "--count", "1000000000", "--out", str(tmp_path / "s")])
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if not os.access(locked, os.W_OK):  # root writes anywhere: nothing to check then
            with pytest.raises(SystemExit, match="not writable"):
                sample([missing_model, "--out", str(locked / "s")])
    finally:
        locked.chmod(0o700)
