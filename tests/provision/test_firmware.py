"""`tablehub firmware` on a provisioned box: every board's config validated offline by the
real ESPHome, an invalid one named; with --upload each valid board that answers gets its
firmware over the real `esphome upload` (to a stand-in of the board's OTA port, checking
the board's own password), one by one, and a board that does not answer, refuses the
password or has no compiled firmware is reported while the next is still updated."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.contract.test_firmware_topics import esphome
from tests.provision.conftest import run_provision
from tests.provision.ota_standin import OtaStandIn

ESPHOME = Path("etc/tablehub/esphome")


def firmware(root: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "hub",
            "firmware",
            "--root",
            str(root),
            "--esphome",
            str(esphome()),
            *argv,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def lines(out: str) -> dict[str, list[str]]:
    """device -> the steps reported for it, in order."""
    found: dict[str, list[str]] = {}
    for line in out.splitlines():
        for device in ("bump-bar-wok", "table-button-T1", "table-button-T2"):
            if f" {device}" in line:
                found.setdefault(device, []).append(line)
    return found


def compiled(root: Path, device: str) -> bytes:
    """What `esphome compile` would leave for the board (compiling needs the toolchain)."""
    node = device.lower()
    path = root / ESPHOME / device / f".esphome/build/{node}/.pioenvs/{node}/firmware.bin"
    path.parent.mkdir(parents=True, exist_ok=True)
    image = os.urandom(40_000)
    path.write_bytes(image)
    return image


def ota_password(root: Path, device: str) -> str:
    return (root / f"etc/tablehub/secrets/ota-{device}").read_text().strip()


def loopback() -> list[str]:
    """Three addresses of their own in 127/8, so each stand-in has port 3232 to itself."""
    base = f"127.{random.randint(20, 250)}.{random.randint(1, 250)}"
    return [f"{base}.{n}" for n in (2, 3, 4)]


@pytest.fixture
def three_boards(root: Path, answers_doc: dict[str, Any]) -> Path:
    answers_doc["buttons"]["esp32"].append(
        {"id": "table-button-T2", "kind": "table-button", "table": "T2"}
    )
    run_provision(root, answers_doc)
    return root


def test_every_board_is_validated_and_an_invalid_one_named(
    root: Path, answers_doc: dict[str, Any]
) -> None:
    answers_doc["buttons"]["esp32"][0]["substitutions"] = {"led_pin": "GPIO6"}  # a flash pin
    run_provision(root, answers_doc)
    secrets = (root / ESPHOME / "table-button-T1/secrets.yaml").read_text()
    assert f'ota_password: "{ota_password(root, "table-button-T1")}"' in secrets
    done = firmware(root)
    assert done.returncode == 1, done.stdout + done.stderr
    steps = lines(done.stdout)
    assert steps["bump-bar-wok"] == ["valid          bump-bar-wok"]
    assert steps["table-button-T1"][0].startswith("invalid        table-button-T1")
    assert "This pin cannot be used" in steps["table-button-T1"][0]
    assert "2 board(s): 1 valid, 1 failed" in done.stdout


def test_upload_goes_board_by_board_past_one_that_does_not_answer(three_boards: Path) -> None:
    root = three_boards
    silent, button, wrong = loopback()
    images = {d: compiled(root, d) for d in ("bump-bar-wok", "table-button-T1")}
    # table-button-T2 was never compiled
    with (
        OtaStandIn(button, ota_password(root, "table-button-T1")) as t1,
        OtaStandIn(wrong, "a password from another box") as t2,
    ):
        done = firmware(
            root,
            "--upload",
            "--host",
            f"bump-bar-wok={silent}",  # first in line, and nothing answers there
            "--host",
            f"table-button-T1={button}",
            "--host",
            f"table-button-T2={wrong}",
        )
        assert t1.received == [images["table-button-T1"]], done.stdout + done.stderr
    assert done.returncode == 1
    steps = lines(done.stdout)
    assert steps["bump-bar-wok"][1].startswith("no answer      bump-bar-wok")
    assert f"{silent}:3232" in steps["bump-bar-wok"][1]
    assert steps["table-button-T1"][1] == f"uploaded       table-button-T1          to {button}"
    assert steps["table-button-T2"][1].startswith("upload failed  table-button-T2")
    assert "not compiled yet" in steps["table-button-T2"][1]
    assert t2.refused == 0  # never got that far
    assert "3 board(s): 1 uploaded, 2 failed" in done.stdout


def test_a_board_with_another_password_refuses_the_upload(
    root: Path, answers_doc: dict[str, Any]
) -> None:
    run_provision(root, answers_doc)
    compiled(root, "table-button-T1")
    (host,) = loopback()[:1]
    with OtaStandIn(host, "flashed with another password") as board:
        done = firmware(
            root, "--upload", "--only", "table-button-T1", "--host", f"table-button-T1={host}"
        )
    assert done.returncode == 1
    assert board.refused == 1
    assert board.received == []
    (line,) = [x for x in done.stdout.splitlines() if x.startswith("upload failed")]
    assert "Authentication invalid" in line, done.stdout
