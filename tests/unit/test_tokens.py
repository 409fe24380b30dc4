"""Signed table tokens and the staff role matrix."""

from __future__ import annotations

import base64
import hashlib
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.domain.tokens import (
    PERMISSIONS,
    ROLES,
    allowed,
    hash_staff_token,
    read_table,
    sign_table,
)
from hub.errors import AuthError, BadTableToken

SECRET = b"s3cret-for-unit-tests-only-32byt"
OTHER = b"s3cret-for-unit-tests-only-32byu"
B64URL = string.ascii_letters + string.digits + "-_"
PROPS = settings(max_examples=150, deadline=None)

table_ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,47}", fullmatch=True)
versions = st.integers(0, 2**40)

TOKENS = [sign_table(SECRET, t, v) for t, v in [("T1", 1), ("patio-12", 7), ("Bar_3", 0)]]
TOKEN_IDS = ["T1", "patio-12", "Bar_3"]


@pytest.mark.parametrize(("table", "version"), [("T1", 1), ("patio-12", 0), ("x" * 48, 10**9)])
def test_round_trip(table: str, version: int) -> None:
    token = sign_table(SECRET, table, version)

    assert read_table(SECRET, token) == (table, version)
    assert token.count(".") == 1
    assert set(token) <= set(B64URL + ".")


@given(table_ids, versions)
@PROPS
def test_round_trip_any_table(table: str, version: int) -> None:
    assert read_table(SECRET, sign_table(SECRET, table, version)) == (table, version)


def test_token_is_deterministic_and_carries_the_version() -> None:
    v1, v2 = sign_table(SECRET, "T4", 1), sign_table(SECRET, "T4", 2)

    assert sign_table(SECRET, "T4", 1) == v1
    assert v1 != v2
    assert read_table(SECRET, v1)[1] == 1
    assert read_table(SECRET, v2)[1] == 2
    payload = v2.split(".")[0]
    assert base64.urlsafe_b64decode(payload + "==") == b"T4:2"


def test_another_secret_rejects() -> None:
    for token in TOKENS:
        with pytest.raises(BadTableToken) as err:
            read_table(OTHER, token)
        assert err.value.field == "table"
        assert isinstance(err.value, AuthError)


def test_payload_of_another_table_with_the_old_mac_is_rejected() -> None:
    t1, t2 = sign_table(SECRET, "T1", 1), sign_table(SECRET, "T2", 1)
    spliced = t2.split(".")[0] + "." + t1.split(".")[1]

    with pytest.raises(BadTableToken):
        read_table(SECRET, spliced)


def _edits(token: str, alphabet: str) -> list[str]:
    """Every substitution, insertion and deletion of one character."""
    out = []
    for i in range(len(token) + 1):
        for ch in alphabet:
            out.append(token[:i] + ch + token[i:])
            if i < len(token) and ch != token[i]:
                out.append(token[:i] + ch + token[i + 1 :])
        if i < len(token):
            out.append(token[:i] + token[i + 1 :])
    return out


def _last_chars(token: str) -> set[int]:
    """Positions of the last character of each base64 part (it carries unused low bits)."""
    dot = token.index(".")
    return {dot - 1, len(token) - 1}


@pytest.mark.parametrize("token", TOKENS, ids=TOKEN_IDS)
def test_single_character_substitutions_in_the_alphabet_are_rejected(token: str) -> None:
    skip = _last_chars(token)
    edited = [
        token[:i] + ch + token[i + 1 :]
        for i in range(len(token))
        if i not in skip
        for ch in B64URL + ".="
        if ch != token[i]
    ]
    assert len(edited) > 1000
    for bad in edited:
        with pytest.raises(BadTableToken):
            read_table(SECRET, bad)


@pytest.mark.parametrize("token", TOKENS, ids=TOKEN_IDS)
def test_every_single_character_edit_is_rejected(token: str) -> None:
    accepted = []
    for bad in _edits(token, B64URL + ".=+/!~ "):
        try:
            read_table(SECRET, bad)
        except BadTableToken:
            continue
        accepted.append(bad)
    assert accepted == []


@pytest.mark.parametrize(
    "junk",
    [
        "",
        ".",
        "..",
        "T1",
        "T1:1",
        "abc.def",
        "abc.def.ghi",
        "a.",
        ".a",
        "a" * 5 + ".b",
        "€.€",
        "x" * 201,
        TOKENS[0] + "." + TOKENS[0],
        TOKENS[0].split(".")[0],
        None,
        b"VDE6MQ.abc",
        12345,
    ],
)
def test_junk_is_rejected(junk: object) -> None:
    with pytest.raises(BadTableToken):
        read_table(SECRET, junk)  # type: ignore[arg-type]


@given(st.text(max_size=250))
@PROPS
def test_arbitrary_text_raises_only_bad_table_token(junk: str) -> None:
    with pytest.raises(BadTableToken):
        read_table(SECRET, junk)


@given(st.from_regex(r"[A-Za-z0-9_=+/-]{0,60}\.[A-Za-z0-9_=+/-]{0,30}", fullmatch=True))
@PROPS
def test_base64_shaped_junk_raises_only_bad_table_token(junk: str) -> None:
    with pytest.raises(BadTableToken):
        read_table(SECRET, junk)


def test_hash_staff_token_is_sha256_hex() -> None:
    assert hash_staff_token("abc") == hashlib.sha256(b"abc").hexdigest()
    assert hash_staff_token("abc") != hash_staff_token("abd")
    assert len(hash_staff_token("")) == 64


ACTIONS = ("kds", "bump", "availability", "serve", "read", "floor", "admin", "weigh", "fire")
MATRIX = {
    # role:    kds   bump  avail serve read  floor admin  weigh fire
    "kitchen": (True, True, True, True, True, False, False, True, True),
    "floor": (False, False, True, True, True, True, False, True, True),
    "admin": (True, True, True, True, True, True, True, True, True),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", ACTIONS)
def test_role_matrix(role: str, action: str) -> None:
    assert allowed(role, action) is MATRIX[role][ACTIONS.index(action)]


def test_matrix_covers_every_role_and_permission() -> None:
    assert set(MATRIX) == set(ROLES) == set(PERMISSIONS)
    assert set().union(*PERMISSIONS.values()) == set(ACTIONS)


@pytest.mark.parametrize(
    ("role", "action"),
    [
        ("admin", "shutdown"),
        ("admin", ""),
        ("Admin", "read"),
        ("guest", "read"),
        ("", "read"),
        ("diner", "kds"),
        ("kitchen", "KDS"),
    ],
)
def test_unknown_roles_and_actions_are_denied(role: str, action: str) -> None:
    assert allowed(role, action) is False
