"""The README keeps up with the code (as Datasette's documentation tests do): every setting is in its Configuration
table and every command in its Command line section. A new setting or command without its line fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer.main

from tierdesk.cli import app
from tierdesk.config import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README + "\n## end\n", re.S | re.M)
    assert match, f"the README has no '## {title}' section"
    return match.group(1)


def documented_settings() -> set[str]:
    """Variables named in the Configuration table's first column; `TIERDESK_CAPACITY_PHONE` / `_CHAT` names
    TIERDESK_CAPACITY_CHAT too."""
    names = set()
    for row in section("Configuration").splitlines():
        if not row.startswith("| `TIERDESK_"):
            continue
        first = row.split("|")[1]
        full = re.findall(r"`(TIERDESK_[A-Z0-9_]+)`", first)
        names.update(full)
        stem = full[0].rsplit("_", 1)[0]
        names.update(stem + suffix for suffix in re.findall(r"`(_[A-Z0-9_]+)`", first))
    return names


def cli_commands() -> list[str]:
    """Every command as typed after `tierdesk`: "serve", "db upgrade", "queues create", ..."""
    def walk(command, prefix: str) -> list[str]:
        subcommands = getattr(command, "commands", None)
        if subcommands is None:
            return [prefix]
        return [path for name, sub in sorted(subcommands.items()) if not sub.hidden
                for path in walk(sub, f"{prefix} {name}".strip())]

    return walk(typer.main.get_command(app), "")


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_in_the_configuration_table(name):
    variable = f"TIERDESK_{name.upper()}"
    assert variable in documented_settings(), f"{variable} is missing from the README's Configuration table"


def test_the_configuration_table_names_no_setting_that_does_not_exist():
    known = {f"TIERDESK_{name.upper()}" for name in Settings.model_fields}
    assert documented_settings() - known == set()


@pytest.mark.parametrize("command", cli_commands())
def test_every_command_is_in_the_command_line_section(command):
    text = section("Command line")
    # "tierdesk db upgrade | db check": a group's later commands may drop the "tierdesk"
    pattern = rf"(?<![\w-]){re.escape(command)}(?![\w-])"
    assert re.search(pattern, text), f"`tierdesk {command}` is missing from the README's Command line section"


def test_the_walk_finds_the_commands():
    commands = cli_commands()
    assert {"serve", "db upgrade", "tickets de-escalate", "triage train", "queues create",
            "dispositions list"} <= set(commands)
    assert len(commands) == len(set(commands)) > 30


def test_the_readme_names_one_default_data_directory():
    row = next(r for r in section("Configuration").splitlines() if r.startswith("| `TIERDESK_DATA_DIR`"))
    assert "~/.local/share/tierdesk" in row and "var" not in row  # no second default (`./var` under make run)
