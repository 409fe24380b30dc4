"""Files the hub starts from, each damaged the way a power cut or a slip of the hand leaves
it: the hub refuses to start with one line on stderr (exit 2, no traceback) and leaves the
file as it found it; what the hub writes itself it writes whole."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from hub.config import SECRET_BYTES, load_or_create_secret


def hub_toml(tmp_path: Path) -> Path:
    """A store box without a broker on any free port, its data in tmp_path/data."""
    path = tmp_path / "hub.toml"
    path.write_text(
        f'[store]\ndata_dir = "{tmp_path / "data"}"\n'
        '[http]\nhost = "127.0.0.1"\nport = 0\n'
        "[broker]\nenabled = false\n"
    )
    (tmp_path / "data").mkdir(exist_ok=True)
    return path


def refused(tmp_path: Path, *args: str) -> str:
    """Run `tablehub ARGS`; it must stop with exit 2 and exactly one line on stderr."""
    proc = subprocess.run(
        [sys.executable, "-m", "hub", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2, f"exit {proc.returncode}: {proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


# ---------------------------------------------------------------- secret.key

SHORT = f" key (at least {SECRET_BYTES} needed)"
WEAK_KEYS = [
    (b"", "holds a 0-byte" + SHORT),
    (b"\n", "holds a 0-byte" + SHORT),
    (b"ab", "holds a 1-byte" + SHORT),
    (b"ab" * (SECRET_BYTES - 1), f"holds a {SECRET_BYTES - 1}-byte" + SHORT),
    (b"zz" * SECRET_BYTES, "is not a hex key"),
    (b"\xff\xfe" * SECRET_BYTES, "is not a hex key"),
]


@pytest.mark.parametrize(("content", "problem"), WEAK_KEYS, ids=[p for _, p in WEAK_KEYS])
def test_a_weak_or_garbled_secret_key_stops_the_hub(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    config = hub_toml(tmp_path)
    key = tmp_path / "data" / "secret.key"
    key.write_bytes(content)
    line = refused(tmp_path, "run", "--config", str(config))
    assert line.startswith(f"error: {key} {problem}; "), line
    assert "move the file away" in line, line
    assert "QR code" in line, line
    assert key.read_bytes() == content  # the hub did not replace it
    assert not (tmp_path / "data" / "tablehub.db").exists()  # nothing else was started


def test_an_unreadable_secret_key_stops_the_hub(tmp_path: Path) -> None:
    config = hub_toml(tmp_path)
    key = tmp_path / "data" / "secret.key"
    key.mkdir()  # unreadable as a file even for root
    line = refused(tmp_path, "run", "--config", str(config))
    assert line.startswith(f"error: {key} cannot be read ("), line


def test_a_new_secret_key_is_whole_and_private(tmp_path: Path) -> None:
    old_umask = os.umask(0)  # a lax umask must not widen the key's mode
    try:
        made = load_or_create_secret(tmp_path / "data")
    finally:
        os.umask(old_umask)
    key = tmp_path / "data" / "secret.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(made) == SECRET_BYTES
    assert key.read_text() == made.hex()
    assert load_or_create_secret(tmp_path / "data") == made  # read back, not made again
    assert sorted(p.name for p in key.parent.iterdir()) == ["secret.key"]  # no temp file left
