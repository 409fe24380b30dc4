"""`tablehub firmware`: check every provisioned ESP32 board's ESPHome config and update the
boards over Wi-Fi, one at a time.

Each board's folder under ``/etc/tablehub/esphome/`` (written by provisioning) is validated
offline with ``esphome config``. With `upload`, each valid board is then asked on its OTA
port (3232; ``<node>.local`` unless an address is given) and, if it answers, sent the
firmware compiled for it with ``esphome upload --device ADDRESS`` (ESPHome's own OTA client,
with the board's password from its secrets.yaml). A board that does not answer or refuses
the upload is reported and the next board is tried: one dead board never holds up the
other 39. Every outcome is reported as it happens.

Compiling needs the ESP32 toolchain, which PlatformIO downloads once: compile on a laptop
or on the box with the internet (``esphome compile <config>``), or pass `compile`.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from hub.errors import HubError
from hub.provision import esphome

OTA_PORT = 3232  # ESPHome's OTA port (the templates keep the default)
CONFIG_TIMEOUT_S = 120.0
UPLOAD_TIMEOUT_S = 600.0
ANSWER_TIMEOUT_S = 3.0


class FirmwareError(HubError):
    code = "firmware"


@dataclass(frozen=True, slots=True)
class Board:
    device: str
    config: Path

    @property
    def node(self) -> str:
        return esphome.node_name(self.device)


@dataclass(frozen=True, slots=True)
class Outcome:
    device: str
    step: str  # valid | invalid | uploaded | no answer | upload failed | compile failed
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.step in ("valid", "uploaded")


def find_esphome(explicit: str | None, source: Path | None) -> str:
    """The esphome executable: given, the checkout's .venv-esphome, or on PATH."""
    if explicit:
        return explicit
    if source is not None and (source / ".venv-esphome/bin/esphome").exists():
        return str(source / ".venv-esphome/bin/esphome")
    found = shutil.which("esphome")
    if found is None:
        raise FirmwareError(
            "ESPHome is not installed: scripts/check-firmware.sh makes .venv-esphome "
            "(or pass --esphome PATH)"
        )
    return found


def boards(folder: Path, only: Sequence[str] = ()) -> list[Board]:
    """The provisioned boards in `folder` (one sub-folder each), in name order."""
    if not folder.is_dir():
        raise FirmwareError(f"no ESP32 boards provisioned: {folder} does not exist")
    found = [
        Board(d.name, d / f"{d.name}.yaml")
        for d in sorted(folder.iterdir())
        if d.is_dir() and (d / f"{d.name}.yaml").is_file()
    ]
    unknown = sorted(set(only) - {b.device for b in found})
    if unknown:
        raise FirmwareError(f"not a provisioned board: {', '.join(unknown)}")
    return [b for b in found if not only or b.device in only]


def _esphome(exe: str, *argv: str, timeout: float) -> tuple[int, str]:
    try:
        done = subprocess.run(
            [exe, *argv], capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError as exc:
        raise FirmwareError(f"cannot run {exe}: {exc.strerror}") from exc
    except subprocess.TimeoutExpired:
        return 124, f"esphome {argv[0]} did not finish in {timeout:.0f} s"
    return done.returncode, done.stdout + done.stderr


def _why(output: str) -> str:
    """ESPHome's own reason: its first error line, else its last line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in lines:
        if "ERROR" in line or "Error" in line or "error:" in line:
            return line[:300]
    return lines[-1][:300] if lines else "no output"


def _answers(host: str, port: int, timeout: float) -> str | None:
    """None if something accepts a connection on host:port, else why not."""
    try:
        socket.create_connection((host, port), timeout).close()
    except OSError as exc:
        return f"{host}:{port}: {exc.strerror or exc}"
    return None


def update(
    exe: str,
    found: Sequence[Board],
    *,
    upload: bool = False,
    compile_first: bool = False,
    hosts: Mapping[str, str] | None = None,
    report: Callable[[Outcome], None] = lambda _o: None,
    port: int = OTA_PORT,
) -> list[Outcome]:
    """Validate each board, then (with `upload`) update each valid one that answers."""
    outcomes: list[Outcome] = []

    def note(o: Outcome) -> None:
        outcomes.append(o)
        report(o)

    valid = []
    for board in found:
        code, out = _esphome(exe, "config", str(board.config), timeout=CONFIG_TIMEOUT_S)
        note(
            Outcome(
                board.device, "valid" if code == 0 else "invalid", "" if code == 0 else _why(out)
            )
        )
        if code == 0:
            valid.append(board)
    if not upload:
        return outcomes
    for board in valid:
        host = (hosts or {}).get(board.device, f"{board.node}.local")
        silent = _answers(host, port, ANSWER_TIMEOUT_S)
        if silent is not None:
            note(Outcome(board.device, "no answer", silent))
            continue
        if compile_first:
            code, out = _esphome(exe, "compile", str(board.config), timeout=UPLOAD_TIMEOUT_S)
            if code != 0:
                note(Outcome(board.device, "compile failed", _why(out)))
                continue
        argv = ("upload", str(board.config), "--device", host)
        code, out = _esphome(exe, *argv, timeout=UPLOAD_TIMEOUT_S)
        if code == 0:
            note(Outcome(board.device, "uploaded", f"to {host}"))
        elif "No such file" in out and "firmware" in out:
            why = f"not compiled yet: esphome compile {board.config} (or --compile)"
            note(Outcome(board.device, "upload failed", why))
        else:
            note(Outcome(board.device, "upload failed", f"{host}: {_why(out)}"))
    return outcomes


def parse_hosts(pairs: Sequence[str]) -> dict[str, str]:
    """--host DEVICE=ADDRESS, repeated."""
    out = {}
    for pair in pairs:
        device, sep, host = pair.partition("=")
        if not sep or not device or not host:
            raise FirmwareError(f"--host {pair}: give DEVICE=ADDRESS")
        out[device] = host
    return out
