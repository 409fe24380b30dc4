"""The part every agent's TOML file shares: its ``[mqtt]`` login, as a typed section, and
the reading of such a file.

[mqtt]
host = "127.0.0.1"
port = 1883
username = "printer-grill-1"
password_file = "/etc/tablehub/secrets/printer-grill-1"   # or password = "..."
# client_id, keepalive = 15, session_expiry = 3600, timeout = 10.0
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Protocol, TypeVar

import msgspec

from devices.agent import MqttSettings
from plumbing.settings import Settings, SettingsError, fail, load_toml


class MqttSection(Settings, frozen=True, kw_only=True):
    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 1883
    username: str | None = None
    password: str | None = None
    password_file: str | None = None  # wins over password; relative to the agent's file
    client_id: str | None = None
    keepalive: Annotated[int, msgspec.Meta(ge=1)] = 15
    session_expiry: Annotated[int, msgspec.Meta(ge=0)] = 3600
    timeout: Annotated[float, msgspec.Meta(gt=0)] = 10.0

    def settings(self, file: Path) -> MqttSettings:
        """The agent's `MqttSettings`, the password read here once; a password file that
        cannot be read is a one-line `SettingsError` naming ``[mqtt] password_file``."""
        password = self.password
        if self.password_file is not None:
            try:
                password = (file.parent / self.password_file).read_text("utf-8").strip()
            except OSError as exc:
                fail(file, ("mqtt", "password_file"), f"cannot read: {exc.strerror or exc}")
        return MqttSettings(
            host=self.host,
            port=self.port,
            username=self.username,
            password=password,
            client_id=self.client_id,
            keepalive=self.keepalive,
            session_expiry=self.session_expiry,
            timeout=self.timeout,
        )


class _WithMqtt(Protocol):
    @property
    def mqtt(self) -> MqttSection: ...


F = TypeVar("F", bound=_WithMqtt)


def read_agent_file(
    path: Path, schema: type[F], error: Callable[[str], Exception]
) -> tuple[F, MqttSettings]:
    """The agent's file decoded as `schema`, and its MQTT login; any mistake is one line of
    `error` naming the file and the key."""
    try:
        raw = load_toml(path, schema)
        return raw, raw.mqtt.settings(path)
    except SettingsError as exc:
        raise error(str(exc)) from None
