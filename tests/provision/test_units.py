"""The systemd units pass `systemd-analyze verify`. Executables that only exist on a store box
(/opt/tablehub/.venv/...) are swapped for /bin/true in a copy; everything else is verified as
written, and a unit with a missing executable must fail (so verify really ran)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hub.provision.writer import UNIT_FILES

SYSTEMD = Path(__file__).resolve().parents[2] / "systemd"
INSTANCES = {"tablehub-agent@.service": "printer-grill-1", "tablehub-kiosk@.service": "grill"}


def verify(folder: Path, names: list[str]) -> subprocess.CompletedProcess[str]:
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is missing (apt-get install systemd)")
    # a template is verified through an instance name; the file is found beside it
    paths = [
        str(folder / n.replace("@.", f"@{INSTANCES[n]}.")) if n in INSTANCES else str(folder / n)
        for n in names
    ]
    return subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *paths],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=folder,
    )


def box_only_to_true(text: str) -> str:
    def swap(m: re.Match[str]) -> str:
        exe = m.group(1).lstrip("-@:+!")
        return m.group(0) if Path(exe).exists() else "ExecStart=/bin/true"

    return re.sub(r"^ExecStart=(\S+).*$", swap, text, flags=re.MULTILINE)


def test_every_unit_verifies(tmp_path: Path) -> None:
    for name in UNIT_FILES:
        (tmp_path / name).write_text(box_only_to_true((SYSTEMD / name).read_text()))
    out = verify(tmp_path, list(UNIT_FILES))
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout + out.stderr == "", out.stdout + out.stderr  # not even a warning
    kiosk = (tmp_path / "tablehub-kiosk@.service").read_text()
    assert "ExecStart=/bin/sh -c" in kiosk  # verified as written


def test_units_with_the_written_dropins_verify(provisioned: Path, tmp_path: Path) -> None:
    """The drop-ins provisioning writes, appended to their units, still verify."""
    written = provisioned / "etc/systemd/system"
    pairs = {
        "tablehub.service": "tablehub.service.d/10-devices.conf",
        "tablehub-agent@.service": "tablehub-agent@buttons-gpio.service.d/10-tablehub.conf",
        "tablehub-kiosk@.service": "tablehub-kiosk@.service.d/10-tablehub.conf",
    }
    for unit, dropin in pairs.items():
        text = box_only_to_true((written / unit).read_text())
        (tmp_path / unit).write_text(text + "\n" + (written / dropin).read_text())
    out = verify(tmp_path, list(pairs))
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout + out.stderr == "", out.stdout + out.stderr


def test_a_broken_unit_fails_verify(tmp_path: Path) -> None:
    (tmp_path / "tablehub.service").write_text((SYSTEMD / "tablehub.service").read_text())
    out = verify(tmp_path, ["tablehub.service"])
    assert out.returncode != 0
    assert "/opt/tablehub/.venv/bin/tablehub" in out.stdout + out.stderr


def test_the_hub_unit_has_the_hardening(tmp_path: Path) -> None:
    unit = (SYSTEMD / "tablehub.service").read_text()
    for line in (
        "Type=notify",
        "WatchdogSec=30",
        "NotifyAccess=main",
        "Restart=on-failure",
        "RestartSec=2",
        "User=tablehub",
        "StateDirectory=tablehub",
        "ConfigurationDirectory=tablehub",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "ProtectKernelTunables=yes",
        "ProtectControlGroups=yes",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
        "LockPersonality=yes",
        "MemoryDenyWriteExecute=yes",
        "After=mosquitto.service network-online.target",
        "Wants=mosquitto.service network-online.target",
        "ExecStart=/opt/tablehub/.venv/bin/tablehub run --config /etc/tablehub/hub.toml",
    ):
        assert f"\n{line}\n" in unit, line


def test_the_hub_unit_raises_open_files_and_bounds_its_log(provisioned: Path) -> None:
    """systemd's default 1,024 open files is what a connection flood exhausts; journald's rate
    limit bounds the log whatever the hub writes. Checked as written and as provisioned."""
    for unit in (
        (SYSTEMD / "tablehub.service").read_text(),
        (provisioned / "etc/systemd/system/tablehub.service").read_text(),
    ):
        keys = dict(
            line.split("=", 1) for line in unit.splitlines() if re.match(r"^[A-Za-z]+=", line)
        )
        assert int(keys["LimitNOFILE"]) >= 65536
        interval = re.fullmatch(r"(\d+)s", keys["LogRateLimitIntervalSec"])
        assert interval is not None
        assert 0 < int(interval.group(1)) <= 60
        assert 0 < int(keys["LogRateLimitBurst"]) <= 10_000


def test_the_bridge_unit_is_written_without_a_cloud_answer_as_the_readme_says(
    provisioned: Path,
) -> None:
    # the fixture's answers have no [cloud]: the unit is installed, its config is not
    assert (provisioned / "etc/systemd/system/tablehub-bridge.service").exists()
    assert not (provisioned / "etc/tablehub/bridge.toml").exists()
    readme = (Path(__file__).parents[2] / "systemd/README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith("| `tablehub-bridge"))
    assert "always installed" in row
    assert "(only with a `[cloud]` answer)" not in readme
