"""Hints and docs name only commands that exist: ``twinflow <command>``, ``lightning <command>``
and ``make <target>``, as quoted in error messages and in the Markdown docs' code."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from twinflow.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[1]
# In messages: `twinflow x`, (make x), ": make x" (e.g. "MLflow: make mlflow-ui").
IN_MESSAGE = re.compile(r"(?:`|\(|: )(twinflow|lightning|make) ([a-z][a-z-]*)")
IN_CODE = re.compile(r"(?:^|[\s/`$])(twinflow|lightning|make) ([a-z][a-z-]*)")


def _targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([a-z][a-z-]*):", text, flags=re.M))


def _known(tool: str, word: str) -> bool:
    return word in _targets() if tool == "make" else word in COMMANDS


def _messages() -> list[tuple[str, str, str]]:
    """(where, tool, word) for each command named in a string literal of src/ or evaluation/."""
    found = []
    for path in sorted([*(ROOT / "src").rglob("*.py"), *(ROOT / "evaluation").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                for m in IN_MESSAGE.finditer(node.value):
                    found.append((f"{path.relative_to(ROOT)}:{node.lineno}", *m.groups()))
    return found


def _markdown_code() -> list[tuple[str, str, str]]:
    """Commands in the Markdown docs' fenced blocks and `inline code`."""
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")),
                 *sorted((ROOT / "evaluation").rglob("*.md"))]:
        text = path.read_text()
        code = re.findall(r"```.*?```", text, flags=re.S) + re.findall(r"`[^`\n]+`", text)
        for chunk in code:
            for m in IN_CODE.finditer(chunk):
                found.append((str(path.relative_to(ROOT)), *m.groups()))
    return found


def test_messages_name_existing_commands():
    named = _messages()
    assert len(named) > 10  # the scan sees the hints
    unknown = [n for n in named if not _known(n[1], n[2])]
    assert not unknown, unknown


def test_docs_name_existing_commands():
    named = _markdown_code()
    assert any(tool == "twinflow" for _, tool, _ in named)
    unknown = [n for n in named if not _known(n[1], n[2])]
    assert not unknown, unknown
