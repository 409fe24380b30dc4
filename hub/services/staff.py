"""Issuing, listing and revoking staff tokens (used by the CLI and the admin API), and the
short-lived PINs that pair a device without typing a token."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from hub.domain import tokens
from hub.domain.ports import Clock, IdGen, SystemIds
from hub.errors import InvalidInput, NotFound
from hub.store import repos
from hub.store.db import Store, Tx


async def issue(store: Store, role: str, label: str = "", ids: IdGen | None = None) -> str:
    if role not in tokens.ROLES:
        raise InvalidInput(f"role must be one of {', '.join(tokens.ROLES)}", field="role")
    ids = ids or SystemIds()
    token_id = ids.token(6)
    token = f"th{role[0]}_{ids.token(24)}"

    async def unit(tx: Tx) -> None:
        await repos.insert_staff_token(
            tx, token_id, tokens.hash_staff_token(token), role, label[:60] or role
        )

    await store.write(unit)
    return token


async def revoke(store: Store, token_id: str) -> None:
    async def unit(tx: Tx) -> bool:
        return await repos.revoke_staff_token(tx, token_id)

    if not await store.write(unit):
        raise NotFound(f"no active token '{token_id}'", field="id")


async def listing(store: Store) -> list[dict[str, Any]]:
    return [dict(r) for r in await repos.list_staff_tokens(store)]


# ---------------------------------------------------------------- pairing PINs

PIN_DIGITS = 6
PIN_TTL_MS = 10 * 60_000
PIN_WRONG_TRIES = 5
MAX_LIVE_PINS = 20


@dataclass(slots=True)
class _PendingPin:
    digest: bytes
    role: str
    label: str
    expires_ms: int
    tries_left: int


@dataclass(frozen=True, slots=True)
class PairingPin:
    """A PIN just made: shown once to the admin who asked for it."""

    pin: str
    role: str
    label: str
    expires_ms: int


class PairingPins:
    """Short-lived one-time PINs that pair a screen or phone with a staff role.

    An admin makes a 6-digit PIN bound to a role and a label; within ten minutes a device types
    it on /pair and gets its own staff token as a session cookie. PINs are kept in this
    process's memory only, as HMACs under a key made at start, so a restart ends them all.
    A wrong PIN cannot say which PIN it was meant for, so it counts against every live PIN:
    after `wrong_tries` wrong PINs a PIN is gone (an admin makes a new one). The web layer
    also limits attempts per client."""

    def __init__(
        self,
        clock: Clock,
        ids: IdGen,
        *,
        ttl_ms: int = PIN_TTL_MS,
        wrong_tries: int = PIN_WRONG_TRIES,
        max_live: int = MAX_LIVE_PINS,
    ) -> None:
        self._clock = clock
        self.ids = ids
        self._key = ids.token(32).encode()
        self._ttl_ms = ttl_ms
        self._wrong_tries = wrong_tries
        self._max_live = max_live
        self._pending: list[_PendingPin] = []

    def __repr__(self) -> str:
        return f"<PairingPins live={len(self._live())}>"

    def _digest(self, pin: str) -> bytes:
        return hmac.new(self._key, pin.encode(), hashlib.sha256).digest()

    def _live(self) -> list[_PendingPin]:
        now = self._clock.now_ms()
        self._pending = [p for p in self._pending if p.expires_ms > now and p.tries_left > 0]
        return self._pending

    def create(self, role: str, label: str = "") -> PairingPin:
        if role not in tokens.ROLES:
            raise InvalidInput(f"role must be one of {', '.join(tokens.ROLES)}", field="role")
        live = self._live()
        taken = {p.digest for p in live}
        pin = self.ids.pin(PIN_DIGITS)
        while self._digest(pin) in taken:
            pin = self.ids.pin(PIN_DIGITS)
        made = _PendingPin(
            self._digest(pin),
            role,
            label[:60] or role,
            self._clock.now_ms() + self._ttl_ms,
            self._wrong_tries,
        )
        live.append(made)
        del live[: max(0, len(live) - self._max_live)]  # the oldest go first
        return PairingPin(pin, made.role, made.label, made.expires_ms)

    def redeem(self, pin: str) -> tuple[str, str] | None:
        """(role, label) of a live PIN, which is used up; None for a wrong or old one."""
        live = self._live()
        digest = self._digest(pin if pin.isascii() else "")
        hit = [p for p in live if hmac.compare_digest(p.digest, digest)]
        if hit:
            live.remove(hit[0])
            return hit[0].role, hit[0].label
        for p in live:
            p.tries_left -= 1
        self._live()
        return None

    @property
    def live(self) -> int:
        return len(self._live())


async def pair_with_pin(store: Store, pins: PairingPins, pin: str) -> tuple[str, str, str] | None:
    """Trade a pairing PIN for a new staff token: (token, role, label), or None."""
    found = pins.redeem(pin)
    if found is None:
        return None
    role, label = found
    token = await issue(store, role, f"{label} (PIN)"[:60], ids=pins.ids)
    return token, role, label
