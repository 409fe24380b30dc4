"""Orders against the demo menu: exact prices, modifier rules, sold-out items, limits, routing
to stations, order status and idempotency keys; plus properties over random carts."""

from __future__ import annotations

from fractions import Fraction
from math import floor
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.cli import demo_menu
from hub.domain.menu import parse_menu
from hub.domain.orders import (
    MAX_LINES,
    MAX_NOTE,
    MAX_QTY,
    LineRequest,
    check_key,
    clean_note,
    order_status,
    price_order,
    route,
    weighed_line_cents,
)
from hub.errors import HubError, InvalidInput, OrderRejected, SoldOut

DOC: dict[str, Any] = demo_menu()
MENU = parse_menu(DOC)

# Independent of the domain classes: prices, deltas and stations read from the raw document.
PRICE = {it["id"]: it["price_cents"] for it in DOC["items"]}
# items sold by weight cost only their modifiers until weighed
PENDING_WEIGHT = {it["id"] for it in DOC["items"] if it.get("price_per_grams") is not None}
STATION = {it["id"]: it["station"] for it in DOC["items"]}
DELTA = {
    (it["id"], o["id"]): o.get("price_delta_cents", 0)
    for it in DOC["items"]
    for g in it["modifier_groups"]
    for o in g["options"]
}

PROPS = settings(max_examples=150, deadline=None)


def line(item: str, qty: int = 1, *mods: str, note: str = "") -> LineRequest:
    return LineRequest(item, qty, tuple(mods), note)


def rejected(lines: list[LineRequest], field: str) -> OrderRejected:
    with pytest.raises(OrderRejected) as err:
        price_order(MENU, lines)
    assert err.value.field == field
    return err.value


# ---------------------------------------------------------------- prices


def test_plain_item_costs_qty_times_price() -> None:
    priced, total = price_order(MENU, [line("sea-salt-edamame", 3)])

    assert total == 3 * 550
    assert priced[0].unit_cents == 550
    assert priced[0].options == ()


def test_exact_total_with_modifiers_and_price_deltas() -> None:
    lines = [
        line("crispy-pork-belly", 2, "pork-belly-extra-kimchi", "pork-belly-spice-hot"),
        line("brown-sugar-boba", 3, "boba-cheese-foam", "boba-large", "boba-sugar-half"),
        line("thai-green-curry", 1, "green-curry-prawn"),
        line("pork-gyoza", 4, "gyoza-sauce-chili-oil", "gyoza-sauce-vinegar"),
    ]

    priced, total = price_order(MENU, lines)

    assert [p.unit_cents for p in priced] == [
        1850 + 200,
        650 + 125 + 100,
        1750 + 300,
        895,
    ]
    assert [p.line_cents for p in priced] == [4100, 2625, 2050, 3580]
    assert total == 4100 + 2625 + 2050 + 3580
    # options come out in the menu's group order, whatever order they were sent in
    assert [o.id for o in priced[0].options] == [
        "pork-belly-spice-hot",
        "pork-belly-extra-kimchi",
    ]
    assert [o.id for o in priced[1].options] == [
        "boba-large",
        "boba-sugar-half",
        "boba-cheese-foam",
    ]
    assert priced[0].item is MENU.items["crispy-pork-belly"]


@pytest.mark.parametrize(
    ("mods", "ok"),
    [
        ((), False),
        (("ribeye-rare",), True),
        (("ribeye-rare", "ribeye-well-done"), False),
        (("ribeye-medium", "ribeye-side-fries"), True),
        (("ribeye-medium", "ribeye-side-fries", "ribeye-side-broccolini"), True),
        (
            (
                "ribeye-medium",
                "ribeye-side-fries",
                "ribeye-side-broccolini",
                "ribeye-side-fried-rice",
            ),
            False,
        ),
        (("ribeye-side-fries",), False),
    ],
)
def test_required_single_choice_and_optional_multi_choice(mods: tuple[str, ...], ok: bool) -> None:
    lines = [line("sea-salt-edamame"), line("black-pepper-ribeye", 1, *mods)]

    if ok:
        _, total = price_order(MENU, lines)
        assert total == 550 + 3200 + sum(DELTA["black-pepper-ribeye", m] for m in mods)
    else:
        rejected(lines, "lines[1].modifiers")


def test_required_choice_message_says_exactly_one() -> None:
    err = rejected([line("black-pepper-ribeye", 1, "ribeye-side-fries")], "lines[0].modifiers")

    assert err.message == "choose exactly 1 of Doneness"


@pytest.mark.parametrize("count", [0, 1, 2, 3, 4])
def test_min_one_max_two(count: int) -> None:
    sauces = [o.id for o in MENU.items["pork-gyoza"].modifier_groups[0].options]
    lines = [line("pork-gyoza", 2, *sauces[:count])]

    if 1 <= count <= 2:
        _, total = price_order(MENU, lines)
        assert total == 2 * 895
    else:
        err = rejected(lines, "lines[0].modifiers")
        assert err.message == "choose between 1 and 2 of Dipping Sauces"


def test_duplicate_option_names_the_second() -> None:
    lines = [line("brown-sugar-boba", 1, "boba-regular", "boba-sugar-less", "boba-regular")]

    rejected(lines, "lines[0].modifiers[2]")


@pytest.mark.parametrize(
    "mod",
    ["no-such-option", "ribeye-rare", "", "PAD-THAI-TOFU"],
    ids=["unknown", "other-items-option", "empty", "wrong-case"],
)
def test_unknown_option_names_its_index(mod: str) -> None:
    lines = [line("chicken-satay"), line("pad-thai", 1, "pad-thai-tofu", mod)]

    rejected(lines, "lines[1].modifiers[1]")


def test_unknown_item_names_its_line() -> None:
    err = rejected([line("sea-salt-edamame"), line("pizza")], "lines[1].item")

    assert isinstance(err, InvalidInput)


def test_sold_out_item_raises_sold_out_naming_the_line() -> None:
    menu = MENU.with_availability("pad-thai", False)
    lines = [line("sea-salt-edamame"), line("chicken-satay"), line("pad-thai", 1, "pad-thai-tofu")]

    with pytest.raises(SoldOut) as err:
        price_order(menu, lines)

    assert err.value.field == "lines[2].item"
    assert err.value.code == "sold_out"
    assert "Pad Thai" in err.value.message
    assert not isinstance(err.value, InvalidInput)
    # the same cart is fine once the item is back
    assert price_order(menu.with_availability("pad-thai", True), lines)[1] == 550 + 1050 + 1650


@pytest.mark.parametrize("qty", [0, -1, MAX_QTY + 1, 10**12])
def test_qty_out_of_bounds(qty: int) -> None:
    rejected([line("chicken-satay"), line("chicken-satay", qty)], "lines[1].qty")


@pytest.mark.parametrize("qty", [1, MAX_QTY])
def test_qty_bounds_are_inclusive(qty: int) -> None:
    assert price_order(MENU, [line("chicken-satay", qty)])[1] == qty * 1050


def test_first_bad_line_is_named() -> None:
    lines = [line("chicken-satay"), line("chicken-satay", 0), line("pizza")]

    rejected(lines, "lines[1].qty")


@pytest.mark.parametrize("count", [0, MAX_LINES + 1])
def test_line_count_bounds(count: int) -> None:
    rejected([line("hot-jasmine-tea")] * count, "lines")


def test_fifty_lines_are_fine() -> None:
    assert price_order(MENU, [line("hot-jasmine-tea")] * MAX_LINES)[1] == MAX_LINES * 400


# ---------------------------------------------------------------- sold by weight


def test_line_sold_by_weight_counts_only_its_modifiers_until_weighed() -> None:
    lines = [line("live-lobster", 2, "lobster-noodles"), line("chicken-satay", 1)]

    priced, total = price_order(MENU, lines)

    assert [p.weighed for p in priced] == [True, False]
    assert priced[0].line_cents == 2 * 600
    assert total == 2 * 600 + 1050


@pytest.mark.parametrize(
    ("price", "per", "grams", "qty", "deltas", "cents"),
    [
        (1200, 100, 850, 1, 0, 10_200),  # 850 g of lobster at $12 per 100 g
        (1200, 100, 850, 2, 600, 10_200 + 1200),  # deltas count per piece
        (1195, 100, 1, 1, 0, 12),  # 11.95 rounds up
        (150, 100, 1, 1, 0, 2),  # 1.5 rounds half up
        (149, 100, 1, 1, 0, 1),  # 1.49 rounds down
        (250, 1000, 2, 1, 0, 1),  # 0.5 rounds half up
        (249, 1000, 2, 1, 0, 0),
        (0, 100, 500, 3, 75, 225),
        (7, 1, 3, 1, 0, 21),  # a rate per single gram
    ],
)
def test_weighed_line_cents(
    price: int, per: int, grams: int, qty: int, deltas: int, cents: int
) -> None:
    assert weighed_line_cents(price, per, grams, qty, deltas) == cents


@pytest.mark.parametrize("grams", [0, -1, -850])
def test_weight_must_be_positive(grams: int) -> None:
    with pytest.raises(InvalidInput) as err:
        weighed_line_cents(1200, 100, grams, 1, 0)

    assert err.value.field == "grams"


@given(
    price=st.integers(0, 10_000_000),
    per=st.integers(1, 100_000),
    grams=st.integers(1, 10_000_000),
    qty=st.integers(1, MAX_QTY),
    deltas=st.integers(0, 10_000_000),
)
@PROPS
def test_weighed_price_is_the_exact_rate_rounded_half_up(
    price: int, per: int, grams: int, qty: int, deltas: int
) -> None:
    cents = weighed_line_cents(price, per, grams, qty, deltas)

    assert cents == floor(Fraction(grams * price, per) + Fraction(1, 2)) + qty * deltas
    assert cents >= 0
    assert weighed_line_cents(price, per, grams + 1, qty, deltas) >= cents


# ---------------------------------------------------------------- notes


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("no onions", "no onions"),
        ("no\tonions\nplease", "no onions please"),
        ("  extra   spicy  ", "extra spicy"),
        ("a\x00b\x07c\x1bd\x7fe", "a b c d e"),
        ("line\u2028break\u2029para", "line break para"),
        ("nbsp\u00a0here", "nbsp here"),
        ("\r\n\x0b\x0c", ""),
        ("少辣，不要香菜", "少辣，不要香菜"),
        ("", ""),
    ],
)
def test_clean_note(raw: str, clean: str) -> None:
    assert clean_note(raw) == clean


@given(st.text())
@PROPS
def test_clean_note_is_one_printable_line(raw: str) -> None:
    out = clean_note(raw)

    assert out.isprintable()
    assert out == out.strip()
    assert "  " not in out
    assert clean_note(out) == out


def test_note_is_stored_cleaned() -> None:
    priced, _ = price_order(MENU, [line("chicken-satay", note="\tno  peanut\nsauce ")])

    assert priced[0].note == "no peanut sauce"


def test_note_length_is_counted_after_cleaning() -> None:
    padded = "\n\t " * 40 + "x" * MAX_NOTE + "\x00" * 20
    priced, _ = price_order(MENU, [line("chicken-satay", note=padded)])
    assert priced[0].note == "x" * MAX_NOTE

    # a control character inside the text becomes a space and counts
    inner = "x" * 70 + "\x07" + "x" * 70
    err = rejected([line("chicken-satay", note=inner)], "lines[0].note")
    assert str(MAX_NOTE) in err.message

    rejected([line("chicken-satay", note="x" * (MAX_NOTE + 1))], "lines[0].note")


# ---------------------------------------------------------------- routing and status


def test_route_groups_line_indexes_by_station_in_first_seen_order() -> None:
    priced, _ = price_order(
        MENU,
        [
            line("sea-salt-edamame"),
            line("pork-gyoza", 1, "gyoza-sauce-vinegar"),
            line("hot-jasmine-tea"),
            line("chicken-satay"),
            line("salt-pepper-squid"),
            line("mango-sticky-rice"),
        ],
    )

    routes = route(priced)

    assert routes == {"cold": [0, 5], "grill": [1, 3], "bar": [2], "wok": [4]}
    assert list(routes) == ["cold", "grill", "bar", "wok"]


def test_route_of_nothing_is_empty() -> None:
    assert route([]) == {}


@pytest.mark.parametrize(
    ("tickets", "progress", "served", "status"),
    [
        ((), False, False, "received"),
        (("open", "open"), False, False, "received"),
        (("open", "open"), True, False, "preparing"),
        (("bumped", "open"), True, False, "preparing"),
        (("bumped", "bumped"), True, False, "ready"),
        (("bumped",), False, False, "ready"),
        (("bumped", "open"), True, True, "served"),
        ((), False, True, "served"),
        ((), True, False, "preparing"),
    ],
)
def test_order_status(tickets: tuple[str, ...], progress: bool, served: bool, status: str) -> None:
    assert order_status(tickets, progress, served) == status


# ---------------------------------------------------------------- idempotency keys


@pytest.mark.parametrize("key", ["abcdefgh", "A1-b2_C3", "x" * 64, "0" * 8, "--------"])
def test_check_key_accepts(key: str) -> None:
    assert check_key(key) == key


@pytest.mark.parametrize(
    "key",
    ["", "abcdefg", "x" * 65, "abc defgh", "abcdefgh!", "clé-12345", "abcd/efgh", 12345678, None],
)
def test_check_key_rejects(key: Any) -> None:
    with pytest.raises(OrderRejected) as err:
        check_key(key)

    assert err.value.field == "idempotency_key"


def test_check_key_rejects_trailing_newline() -> None:
    with pytest.raises(OrderRejected):
        check_key("abcdefgh\n")


# ---------------------------------------------------------------- properties


@st.composite
def valid_line(draw: st.DrawFn) -> LineRequest:
    item = MENU.items[draw(st.sampled_from(sorted(MENU.items)))]
    mods: list[str] = []
    for group in item.modifier_groups:
        k = draw(st.integers(group.min, group.max))
        mods += [o.id for o in draw(st.permutations(group.options))[:k]]
    mods = draw(st.permutations(mods))
    return LineRequest(item.id, draw(st.integers(1, MAX_QTY)), tuple(mods))


carts = st.lists(valid_line(), min_size=1, max_size=MAX_LINES)


@given(carts)
@PROPS
def test_total_is_sum_of_qty_times_price_and_deltas(cart: list[LineRequest]) -> None:
    priced, total = price_order(MENU, cart)

    expected = [
        ln.qty
        * (
            (0 if ln.item in PENDING_WEIGHT else PRICE[ln.item])
            + sum(DELTA[ln.item, m] for m in ln.modifiers)
        )
        for ln in cart
    ]
    assert [p.line_cents for p in priced] == expected
    assert total == sum(expected)
    assert total >= 0
    assert [sorted(o.id for o in p.options) for p in priced] == [
        sorted(ln.modifiers) for ln in cart
    ]


@given(carts)
@PROPS
def test_routing_covers_every_line_once_and_only_its_station(cart: list[LineRequest]) -> None:
    priced, _ = price_order(MENU, cart)

    routes = route(priced)

    assert sorted(i for idxs in routes.values() for i in idxs) == list(range(len(cart)))
    for station, idxs in routes.items():
        assert idxs == sorted(idxs)
        assert {STATION[cart[i].item] for i in idxs} == {station}


ITEM_IDS = sorted(MENU.items)
OPTION_IDS = sorted({o for _, o in DELTA})
SOME_SOLD_OUT = MENU.with_availability("pad-thai", False).with_availability("chicken-satay", False)

any_line = st.builds(
    LineRequest,
    item=st.one_of(st.sampled_from(ITEM_IDS), st.text(max_size=60)),
    qty=st.one_of(st.integers(-5, 105), st.integers()),
    modifiers=st.lists(st.one_of(st.sampled_from(OPTION_IDS), st.text(max_size=60))).map(tuple),
    note=st.text(max_size=300),
)


@given(st.lists(any_line, max_size=MAX_LINES + 3))
@PROPS
def test_arbitrary_lines_raise_only_hub_errors(lines: list[LineRequest]) -> None:
    try:
        priced, total = price_order(SOME_SOLD_OUT, lines)
    except HubError as exc:
        field = exc.field
    else:
        assert total == sum(p.line_cents for p in priced)
        assert all(p.item.available for p in priced)
        return
    assert field is not None
    assert field == "lines" or field.startswith("lines[")


def test_options_cannot_make_a_line_negative() -> None:
    doc = demo_menu()
    doc["items"][1]["modifier_groups"] = [
        {
            "id": "size",
            "name": "Size",
            "min": 1,
            "max": 1,
            "options": [{"id": "tiny", "name": "Tiny", "price_delta_cents": -5000}],
        }
    ]

    with pytest.raises(HubError):
        price_order(parse_menu(doc), [line("veggie-spring-rolls", 2, "tiny")])
