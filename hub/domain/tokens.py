"""Signed table tokens (the QR codes) and staff token hashing. Pure: the secret is passed in.

A table token is ``base64url("<table id>:<version>") "." base64url(HMAC-SHA256[:16])``. The
version is kept per table in the store; rotating a table bumps it, so every QR code printed
before stops working while a forged or edited token never verifies.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from hub.errors import BadTableToken

MAC_BYTES = 16


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_table(secret: bytes, table_id: str, version: int) -> str:
    payload = f"{table_id}:{version}".encode()
    mac = hmac.new(secret, b"table\x00" + payload, hashlib.sha256).digest()[:MAC_BYTES]
    return f"{_b64(payload)}.{_b64(mac)}"


def read_table(secret: bytes, token: str) -> tuple[str, int]:
    """(table id, version) of a genuine token; `BadTableToken` for anything else."""
    if not isinstance(token, str) or len(token) > 200 or token.count(".") != 1:
        raise BadTableToken("this table code is not valid; scan the QR code again", field="table")
    p, m = token.split(".")
    try:
        payload, mac = _unb64(p), _unb64(m)
    except (ValueError, TypeError) as exc:
        raise BadTableToken(
            "this table code is not valid; scan the QR code again", field="table"
        ) from exc
    want = hmac.new(secret, b"table\x00" + payload, hashlib.sha256).digest()[:MAC_BYTES]
    if not hmac.compare_digest(mac, want):
        raise BadTableToken("this table code is not valid; scan the QR code again", field="table")
    table_id, _, version = payload.decode("utf-8", "replace").rpartition(":")
    if not table_id or not version.isdigit():
        raise BadTableToken("this table code is not valid; scan the QR code again", field="table")
    # one spelling per token: base64 decoding forgives padding bits and foreign characters
    if not hmac.compare_digest(token, sign_table(secret, table_id, int(version))):
        raise BadTableToken("this table code is not valid; scan the QR code again", field="table")
    return table_id, int(version)


def hash_staff_token(token: str) -> str:
    """Staff tokens are stored only as their SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


ROLES = ("kitchen", "floor", "admin")

# What each role may do; admin may do everything.
PERMISSIONS: dict[str, frozenset[str]] = {
    "kitchen": frozenset({"kds", "bump", "availability", "serve", "read", "weigh", "fire"}),
    "floor": frozenset({"floor", "serve", "read", "availability", "weigh", "fire"}),
    "admin": frozenset(
        {"kds", "bump", "availability", "serve", "read", "floor", "admin", "weigh", "fire"}
    ),
}


def allowed(role: str, action: str) -> bool:
    return action in PERMISSIONS.get(role, frozenset())


# ---------------------------------------------------------------- the manager PIN

PIN_SCHEME = "pbkdf2_sha256"
PIN_ITERATIONS = 100_000


def hash_manager_pin(pin: str, salt: bytes, iterations: int = PIN_ITERATIONS) -> str:
    """The line kept in hub.toml (`[shift] manager_pin_hash`): never the PIN itself."""
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, iterations)
    return f"{PIN_SCHEME}${iterations}${salt.hex()}${digest.hex()}"


def manager_pin_hash_ok(stored: str) -> bool:
    parts = stored.split("$")
    if len(parts) != 4 or parts[0] != PIN_SCHEME or not parts[1].isdigit():
        return False
    try:
        bytes.fromhex(parts[2])
        bytes.fromhex(parts[3])
    except ValueError:
        return False
    return True


def verify_manager_pin(pin: str, stored: str) -> bool:
    """Whether `pin` is the one `stored` was made from (compared in constant time)."""
    if not manager_pin_hash_ok(stored) or not pin:
        return False
    _, iterations, salt, want = stored.split("$")
    got = hashlib.pbkdf2_hmac("sha256", pin.encode(), bytes.fromhex(salt), int(iterations))
    return hmac.compare_digest(got.hex(), want)
