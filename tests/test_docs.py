"""The docs stay true to the code: every command is shown (metrics: test_api.py checks metrics.md)."""

from pathlib import Path

from trpo.cli import COMMANDS

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_usage_md_shows_every_command():
    text = (DOCS / "usage.md").read_text()
    for command in COMMANDS:
        assert f"trpo {command}" in text
    assert "trpo train --resume" in text and "--seeds" in text
