"""The command table: every subcommand resolves, unknown ones are one clear line."""

import importlib
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
