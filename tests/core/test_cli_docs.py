"""Every command has help text with an example, and the README lists every command."""

from pathlib import Path

import typer.main

from mobile_webinfer.cli import app

README = Path(__file__).resolve().parents[2] / "README.md"


def _commands(cmd, prefix: str = "mwi"):
    if getattr(cmd, "commands", None):
        for name, sub in cmd.commands.items():
            yield from _commands(sub, f"{prefix} {name}")
    else:
        yield prefix, cmd


def test_readme_lists_every_command():
    text = README.read_text()
    root = typer.main.get_command(app)
    names = [name for name, _ in _commands(root)]
    assert len(names) >= 5
    missing = [n for n in names if f"`{n}" not in text]
    assert not missing, f"README does not list: {missing}"


def test_every_command_has_help_with_an_example():
    root = typer.main.get_command(app)
    for name, cmd in _commands(root):
        assert cmd.help and len(cmd.help.strip()) > 20, name
        assert "Example:" in cmd.help, f"{name} help has no Example:"


def test_readme_has_exactly_the_two_commands():
    text = README.read_text()
    assert "./bootstrap.sh sweep" in text and "./bootstrap.sh test" in text
    ci = (README.parent / ".ci" / "run").read_text()
    assert "./bootstrap.sh test" in ci
