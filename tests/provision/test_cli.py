"""The `tablehub` command line from outside: --version, help on every subcommand and option,
a busy port said in one line naming it, and provision's help saying which flags are required
without an answers file."""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
from pathlib import Path

import hub
from hub.cli import build_parser

MENU = Path(hub.__file__).parent / "demo" / "menu.json"


def tablehub(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_version() -> None:
    done = tablehub("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"tablehub {hub.__version__}"


def _undocumented(parser: argparse.ArgumentParser, path: str) -> list[str]:
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                if not helps.get(name):
                    missing.append(f"{path} {name}")
                missing += _undocumented(sub, f"{path} {name}")
        elif not action.help:
            missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    return missing


def test_every_subcommand_and_option_has_help() -> None:
    assert _undocumented(build_parser(), "tablehub") == []
    for command in ("run", "provision", "firmware", "doctor", "backup", "restore", "demo"):
        done = tablehub(command, "--help")
        assert done.returncode == 0, (command, done.stderr)


def test_provision_help_says_what_is_required_without_answers() -> None:
    text = tablehub("provision", "--help").stdout
    assert text.startswith(
        "usage: tablehub provision (--answers FILE | --store-id ID --store-name NAME "
        "--tables N --public-url URL)"
    )
    for flag in ("--store-id", "--store-name", "--tables", "--public-url"):
        line = next(x for x in text.splitlines() if x.strip().startswith(f"{flag} "))
        block = text[text.index(line) :].split("\n  -", 1)[0]
        assert "required without --answers" in " ".join(block.split()), (flag, block)
    done = tablehub("provision", "--store-id", "harbour", "--tables", "3")
    assert done.returncode == 2
    assert done.stderr.strip() == "error: --store-name: is required without --answers"


def test_a_busy_port_is_one_line_naming_it(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        config = tmp_path / "hub.toml"
        config.write_text(
            f'[store]\ndata_dir = "{tmp_path / "data"}"\nmenu_file = "{MENU}"\n\n'
            f'[http]\nhost = "127.0.0.1"\nport = {port}\n\n[broker]\nenabled = false\n'
        )
        done = tablehub("run", "--config", str(config))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: port {port} on 127.0.0.1 is already in use (another hub?): "
        "stop it or choose another port"
    ], done.stderr
