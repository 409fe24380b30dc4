"""Writing a box's files under a root directory: compare first, write only what differs,
atomically, with the right mode and owner, and report every file as created, updated,
unchanged or removed.

Paths are given as they are on the box (``/etc/tablehub/hub.toml``) and land under `root`;
`box` says how the files' contents name them (as on the box, or under a rehearsal root).
Ownership is only changed when running as root, and only to users that exist; otherwise it is
noted once.

A file provisioning wrote and someone then edited by hand is not lost when provisioning
rewrites it: the manifest remembers the SHA-256 of what was written, and a file that no
longer matches is first kept beside itself as ``<name>.edited-<UTC time>``, and the report
says so.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pwd
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from plumbing.files import write_atomic

SERVICE_USER = "tablehub"  # the hub, the bridge and the agents run as this user
BROKER_USER = "mosquitto"


@dataclass(frozen=True, slots=True)
class Box:
    """How a written file names a path of the box: as it is on the box (``/etc/...``), or,
    for a box rehearsed in a folder, under that folder, so everything runs from there."""

    prefix: str = ""  # "" or the rehearsal folder, without a trailing slash

    def __call__(self, path: str) -> str:
        return self.prefix + path


ON_BOX = Box()


@dataclass(frozen=True, slots=True)
class Change:
    path: str  # as on the box
    action: str  # created | updated | unchanged | removed


@dataclass(slots=True)
class Report:
    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def paths(self, *actions: str) -> list[str]:
        return [c.path for c in self.changes if c.action in actions]

    @property
    def changed(self) -> list[str]:
        return self.paths("created", "updated", "removed")

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def as_dict(self) -> dict[str, object]:
        return {
            "changes": [{"path": c.path, "action": c.action} for c in self.changes],
            "notes": self.notes,
        }


class Owners:
    """Who may own files here: only root gives files away, only to users that exist."""

    def __init__(
        self,
        *,
        enabled: bool | None = None,
        lookup: Callable[[str], tuple[int, int] | None] | None = None,
    ) -> None:
        self.enabled = os.geteuid() == 0 if enabled is None else enabled
        self._lookup = lookup or _passwd_lookup
        self.missing: set[str] = set()

    def ids(self, user: str | None) -> tuple[int, int] | None:
        if user is None or not self.enabled:
            return None
        found = self._lookup(user)
        if found is None:
            self.missing.add(user)
        return found


def _passwd_lookup(user: str) -> tuple[int, int] | None:
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid


class Tree:
    """The box's file system under `root`."""

    def __init__(self, root: Path, owners: Owners, report: Report, *, box: Box = ON_BOX) -> None:
        self.root = Path(root)
        self.box = box
        self.recorded: dict[str, str] = {}  # target -> SHA-256 the last run wrote
        self.digests: dict[str, str] = {}  # target -> SHA-256 this run wrote
        self.stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.owners = owners
        self.report = report
        self.managed: list[str] = []  # files this run is responsible for (the manifest)

    def real(self, target: str) -> Path:
        return self.root / target.lstrip("/")

    def mkdir(self, target: str, *, mode: int = 0o755, owner: str | None = None) -> Path:
        path = self.real(target)
        path.mkdir(parents=True, exist_ok=True)
        if path.stat().st_mode & 0o7777 != mode:
            path.chmod(mode)
        ids = self.owners.ids(owner)
        if ids is not None and (path.stat().st_uid, path.stat().st_gid) != ids:
            os.chown(path, *ids)
        return path

    def write(
        self,
        target: str,
        content: str | bytes,
        *,
        mode: int = 0o644,
        owner: str | None = None,
        managed: bool = True,
    ) -> str:
        """Write `content` unless the file already holds it; returns the action taken."""
        data = content.encode("utf-8") if isinstance(content, str) else content
        path = self.real(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        ids = self.owners.ids(owner)
        action = "unchanged"
        if not path.exists():
            action = "created"
        elif path.read_bytes() != data:
            action = "updated"
        if action == "updated" and managed:
            self._keep_hand_edit(target, path)
        if action != "unchanged":
            write_atomic(path, data, mode=mode, owner=ids)
        else:
            st = path.stat()
            if st.st_mode & 0o7777 != mode:
                path.chmod(mode)
                action = "updated"
            if ids is not None and (st.st_uid, st.st_gid) != ids:
                os.chown(path, *ids)
                action = "updated"
        if managed:
            self.managed.append(target)
            self.digests[target] = hashlib.sha256(data).hexdigest()
        self.report.changes.append(Change(target, action))
        return action

    def _keep_hand_edit(self, target: str, path: Path) -> None:
        """Keep a copy of a file someone changed since provisioning last wrote it."""
        written = self.recorded.get(target)
        if written is None or hashlib.sha256(path.read_bytes()).hexdigest() == written:
            return
        kept = path.with_name(f"{path.name}.edited-{self.stamp}")
        shutil.copy2(path, kept)
        shown = f"{target}.edited-{self.stamp}"
        self.report.changes.append(Change(shown, "created"))
        self.report.note(
            f"{target} was edited by hand since provisioning wrote it: the edited file is kept "
            f"as {shown}; put what it needs into the answers (e.g. [hub.<section>]) and re-run"
        )

    def remove(self, target: str) -> None:
        path = self.real(target)
        if path.exists():
            path.unlink()
            self.report.changes.append(Change(target, "removed"))
            with contextlib.suppress(OSError):  # its folder too, if that leaves it empty
                path.parent.rmdir()

    def read_manifest(self, target: str) -> list[str]:
        path = self.real(target)
        try:
            doc = json.loads(path.read_text("utf-8"))
            files: list[str] = doc["files"]
        except (OSError, ValueError, KeyError, TypeError):
            return []
        digests = doc.get("sha256")
        if isinstance(digests, dict):
            self.recorded = {str(k): str(v) for k, v in digests.items()}
        return [str(f) for f in files]

    def write_manifest(self, target: str) -> None:
        doc = {
            "written_by": "tablehub provision",
            "files": sorted(set(self.managed)),
            "sha256": dict(sorted(self.digests.items())),
        }
        data = json.dumps(doc, indent=2) + "\n"
        path = self.real(target)
        if not path.exists() or path.read_text("utf-8") != data:
            write_atomic(path, data.encode(), mode=0o644, owner=None)
