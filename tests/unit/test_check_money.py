"""The money of a check, pure: even splits and proportional shares add up to the cent and
give the odd cents deterministically; parts follow the orders as they are now; the manager
PIN is kept only as a hash; hub.toml's [shift] section."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.config import ConfigInvalid, load_config
from hub.domain import checks
from hub.domain.corrections import allocate, split_even, void_line
from hub.domain.events import LineVoid, Order, OrderLine, TableRef
from hub.domain.tokens import hash_manager_pin, verify_manager_pin
from hub.errors import Conflict, InvalidInput
from tests.unit.conftest import error_line


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=1, max_value=20))
def test_an_even_split_adds_up_and_the_odd_cents_go_first(total: int, n: int) -> None:
    parts = split_even(total, n)
    assert len(parts) == n
    assert sum(parts) == total
    assert max(parts) - min(parts) <= 1
    assert parts == sorted(parts, reverse=True)  # the first parts take the odd cents
    assert parts == split_even(total, n)  # the same check always splits the same way


@given(
    st.integers(min_value=0, max_value=10**9),
    st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=20),
)
def test_proportional_shares_add_up_to_the_cent(cents: int, weights: list[int]) -> None:
    shares = allocate(cents, weights)
    assert sum(shares) == cents
    assert all(s >= 0 for s in shares)
    total = sum(weights)
    for w, s in zip(weights, shares, strict=True):
        if total:  # each share is within a cent of its exact proportion
            assert abs(s * total - cents * w) < total


def line(qty: int, unit: int, seat: int | None = None) -> OrderLine:
    return OrderLine("x", {"en": "X"}, qty, unit, qty * unit, seat=seat)


def order(order_id: int, *lines: OrderLine) -> Order:
    total = sum(ln.line_cents for ln in lines)
    return Order(TableRef("T1"), list(lines), order_id, order_id, "received", total)


@given(
    st.lists(
        st.tuples(st.integers(1, 9), st.integers(1, 5000), st.integers(0, 4)),
        min_size=1,
        max_size=8,
    ),
    st.integers(0, 200_000),
    st.integers(2, 20),
)
def test_every_split_adds_up_to_the_check(
    spec: list[tuple[int, int, int]], tax_ppm: int, n: int
) -> None:
    orders = [order(1, *(line(q, u, s or None) for q, u, s in spec))]
    m = checks.money(orders, [("tax", tax_ppm)])
    first_half = [
        {"order_id": 1, "line": i, "qty": max(1, q // 2)} for i, (q, _, _) in enumerate(spec)
    ]
    for split in (
        {"mode": "even", "n": n},
        {"mode": "seats"},
        {"mode": "items", "parts": [first_half]},
    ):
        parts = checks.parts(orders, split, m)
        assert sum(p.total_cents for p in parts) == m.total_cents, split
        assert all(p.total_cents >= 0 for p in parts)


def test_a_void_after_the_split_moves_nothing_out_of_the_parts_sum() -> None:
    ln = line(3, 550)
    voided = void_line(ln, 2, LineVoid(0, "x"))
    orders = [order(1, voided)]
    m = checks.money(orders, [])
    split = {"mode": "items", "parts": [[{"order_id": 1, "line": 0, "qty": 2}]]}
    parts = checks.parts(orders, split, m)
    assert [(p.label, p.total_cents) for p in parts] == [("Part 1", 550)]


def test_a_void_takes_units_off_and_refuses_more_than_is_left() -> None:
    ln = line(3, 550)
    once = void_line(ln, None, LineVoid(0, "Wrong item", by="Ann"))
    assert (once.void_qty, once.line_cents, once.voids[0].qty) == (3, 0, 3)
    with pytest.raises(Conflict):
        void_line(once, 1, LineVoid(0, "again"))
    with pytest.raises(Conflict) as too_many:  # the line has 3: what it is now refuses 4
        void_line(ln, 4, LineVoid(0, "too many"))
    assert too_many.value.field == "qty"
    with pytest.raises(InvalidInput) as none:
        void_line(ln, 0, LineVoid(0, "none"))
    assert none.value.field == "qty"


def test_the_manager_pin_is_kept_as_a_hash_only() -> None:
    stored = hash_manager_pin("2468", b"salt", 1000)
    assert "2468" not in stored
    assert verify_manager_pin("2468", stored)
    assert not verify_manager_pin("2469", stored)
    assert not verify_manager_pin("2468", "plain-2468")


def test_a_bad_shift_section_is_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "hub.toml"
    cfg.write_text(f'[store]\ndata_dir = "{tmp_path}"\n[shift]\nmanager_pin_hash = "2468"\n')
    line_ = error_line(load_config, ConfigInvalid, cfg)
    assert "[shift] manager_pin_hash" in line_
    cfg.write_text(f'[store]\ndata_dir = "{tmp_path}"\n[shift]\nvoid_reasons = [""]\n')
    assert "[shift] void_reasons" in error_line(load_config, ConfigInvalid, cfg)
