"""The menu document: the demo menu parses, `menu_to_doc` is its inverse, and every bad
document raises `MenuInvalid` naming the exact field."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from hub.cli import demo_menu
from hub.domain.menu import MAX_PRICE_CENTS, TableSpec, menu_to_doc, parse_menu
from hub.errors import InvalidInput, MenuInvalid

Doc = dict[str, Any]
Edit = Callable[[Doc], object]

# demo menu indexes used below
_IDX = {it["id"]: i for i, it in enumerate(demo_menu()["items"])}
GYOZA = _IDX["pork-gyoza"]  # one group "gyoza-sauces" min 1 max 2, four options
PORK_BELLY = _IDX["crispy-pork-belly"]  # "pork-belly-spice" 1..1, "pork-belly-extras" 0..3


# ---------------------------------------------------------------- the demo menu


def test_demo_menu_counts(menu_doc: Doc) -> None:
    menu = parse_menu(menu_doc)

    assert menu.store.id == "demo"
    assert menu.store.name == "Golden Lantern"
    assert menu.store.currency == "USD"
    assert menu.store.languages == ("en", "zh-Hans", "zh-Hant")
    assert [s.id for s in menu.stations] == ["grill", "wok", "cold", "bar"]
    assert [c.id for c in menu.categories] == [
        "starters",
        "mains",
        "noodles-rice",
        "salads",
        "desserts",
        "drinks",
    ]
    assert len(menu.items) == 30
    assert list(menu.items) == [it["id"] for it in menu_doc["items"]]
    assert len(menu.labels["allergens"]) == 14
    assert len(menu.labels["dietary"]) == 5
    assert [t.id for t in menu.tables] == [f"T{i}" for i in range(1, 13)]
    assert menu.sold_out() == []


def test_demo_menu_items_keep_their_details(menu_doc: Doc) -> None:
    menu = parse_menu(menu_doc)
    belly = menu.items["crispy-pork-belly"]

    assert (belly.category, belly.station, belly.price_cents) == ("mains", "grill", 1850)
    assert belly.name["zh-Hant"] == "脆皮燒肉"
    assert belly.allergens == ("soy", "gluten", "sesame")
    assert [(g.id, g.min, g.max, len(g.options)) for g in belly.modifier_groups] == [
        ("pork-belly-spice", 1, 1, 4),
        ("pork-belly-extras", 0, 3, 4),
    ]
    found = belly.option("pork-belly-extra-rice")
    assert found is not None
    assert found[0].id == "pork-belly-extras"
    assert found[1].price_delta_cents == 250
    assert belly.option("ribeye-rare") is None
    station = menu.station("bar")
    assert station is not None
    assert (station.warn_seconds, station.late_seconds) == (180, 300)
    assert menu.station("expo") is None


def test_items_sold_by_weight(menu_doc: Doc) -> None:
    menu = parse_menu(menu_doc)
    doc = menu_to_doc(menu)

    assert {i.id: i.price_per_grams for i in menu.items.values() if i.price_per_grams} == {
        "live-lobster": 100
    }
    assert menu.items["live-lobster"].price_cents == 1200
    by_id = {it["id"]: it for it in doc["items"]}
    assert by_id["live-lobster"]["price_per_grams"] == 100
    assert "price_per_grams" not in by_id["pork-gyoza"]


def test_round_trip_is_structural_equality(menu_doc: Doc) -> None:
    menu = parse_menu(menu_doc)
    doc = menu_to_doc(menu)

    assert parse_menu(doc) == menu
    assert menu_to_doc(parse_menu(doc)) == doc
    # the document is what the store keeps as JSON
    assert parse_menu(json.loads(json.dumps(doc, ensure_ascii=False))) == menu


def test_round_trip_keeps_keymap_defaults_and_counted_tables(menu_doc: Doc) -> None:
    menu_doc["stations"][0]["keymap"] = {"bump": ["Enter", "b"], "recall": ["KEY_R"]}
    del menu_doc["stations"][1]["warn_seconds"]
    del menu_doc["stations"][1]["late_seconds"]
    menu_doc["tables"] = {"count": 3}
    menu_doc["items"][1]["name"] = "Spring Rolls"
    menu_doc["items"][1]["image"] = "/static/img/rolls.jpg"
    menu = parse_menu(menu_doc)

    assert menu.stations[0].keymap == {"bump": ("Enter", "b"), "recall": ("KEY_R",)}
    assert (menu.stations[1].warn_seconds, menu.stations[1].late_seconds) == (300, 600)
    assert menu.tables == (
        TableSpec("T1", "Table 1"),
        TableSpec("T2", "Table 2"),
        TableSpec("T3", "Table 3"),
    )
    assert menu.items["veggie-spring-rolls"].name == {"en": "Spring Rolls"}
    assert parse_menu(menu_to_doc(menu)) == menu


def test_optional_fields_take_their_defaults(menu_doc: Doc) -> None:
    menu_doc["store"] = {"id": "s1", "name": "x" * 100, "currency": "eur-ish"}
    menu_doc["items"] = [
        {"id": "tea", "category": "drinks", "station": "bar", "name": "Tea", "price_cents": 0},
        {
            "id": "soup",
            "category": "starters",
            "station": "wok",
            "name": "Soup",
            "price_cents": MAX_PRICE_CENTS,
            "modifier_groups": [
                {
                    "id": "g",
                    "name": "G",
                    "options": [{"id": "a", "name": "A"}, {"id": "b", "name": "B"}],
                }
            ],
        },
    ]
    del menu_doc["tables"]
    del menu_doc["labels"]
    menu = parse_menu(menu_doc)

    assert menu.store.name == "x" * 80
    assert menu.store.currency == "EUR"
    tea = menu.items["tea"]
    assert (tea.available, tea.image, tea.description, tea.allergens) == (True, None, {}, ())
    group = menu.items["soup"].modifier_groups[0]
    assert (group.min, group.max) == (0, 2)
    assert [o.price_delta_cents for o in group.options] == [0, 0]
    assert menu.tables == ()
    assert menu.labels == {"allergens": {}, "dietary": {}}


def test_with_availability_marks_one_item_sold_out(menu_doc: Doc) -> None:
    menu = parse_menu(menu_doc)
    out = menu.with_availability("pad-thai", False)

    assert out.sold_out() == ["pad-thai"]
    assert menu.sold_out() == []
    assert out.items["pad-thai"].modifier_groups == menu.items["pad-thai"].modifier_groups
    assert out.with_availability("pad-thai", True) == menu


# ---------------------------------------------------------------- bad documents


def _set(path: str, value: object) -> Edit:
    """An edit that sets `value` at a dotted/indexed path like 'items.0.price_cents'."""

    def edit(doc: Doc) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return edit


def _del(path: str) -> Edit:
    def edit(doc: Doc) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        del node[last]

    return edit


def _copy_id(src: str, dst: str) -> Edit:
    """Give the object at `dst` the id of the object at `src` (both dotted paths)."""

    def edit(doc: Doc) -> None:
        def at(path: str) -> Any:
            node: Any = doc
            for key in path.split("."):
                node = node[int(key)] if isinstance(node, list) else node[key]
            return node

        at(dst)["id"] = at(src)["id"]

    return edit


G0 = f"items.{GYOZA}.modifier_groups.0"
G0F = f"items[{GYOZA}].modifier_groups[0]"

BAD_DOCUMENTS = [
    pytest.param(_del("store"), "store", id="missing-store"),
    pytest.param(_set("store", "demo"), "store", id="store-not-object"),
    pytest.param(_del("store.id"), "store.id", id="missing-store-id"),
    pytest.param(_set("store.id", "golden lantern"), "store.id", id="bad-store-id"),
    pytest.param(_del("store.name"), "store.name", id="missing-store-name"),
    pytest.param(_del("stations"), "stations", id="missing-stations"),
    pytest.param(_set("stations", []), "stations", id="no-stations"),
    pytest.param(_set("stations.0.id", "expo"), "stations[0].id", id="station-expo"),
    pytest.param(_set("stations.2.id", "expo"), "stations[2].id", id="station-expo-later"),
    pytest.param(_copy_id("stations.0", "stations.3"), "stations[3].id", id="duplicate-station"),
    pytest.param(_set("stations.0.id", ""), "stations[0].id", id="empty-station-id"),
    pytest.param(_del("stations.1.name"), "stations[1].name", id="missing-station-name"),
    pytest.param(_set("stations.0.warn_seconds", 0), "stations[0].warn_seconds", id="warn-0"),
    pytest.param(
        _set("stations.0.late_seconds", 1), "stations[0].late_seconds", id="late-before-warn"
    ),
    pytest.param(
        _set("stations.0.keymap", {"fire": ["KEY_F"]}), "stations[0].keymap", id="keymap-key"
    ),
    pytest.param(_set("stations.0.keymap", ["KEY_B"]), "stations[0].keymap", id="keymap-list"),
    pytest.param(_del("categories"), "categories", id="missing-categories"),
    pytest.param(_set("categories", {"mains": "Mains"}), "categories", id="categories-object"),
    pytest.param(
        _copy_id("categories.0", "categories.4"), "categories[4].id", id="duplicate-category"
    ),
    pytest.param(_del("categories.1.name"), "categories[1].name", id="missing-category-name"),
    pytest.param(_del("items"), "items", id="missing-items"),
    pytest.param(_copy_id("items.3", "items.17"), "items[17].id", id="duplicate-item"),
    pytest.param(_set("items.2.id", "chicken satay"), "items[2].id", id="bad-item-id"),
    pytest.param(_set("items.2.id", "x" * 49), "items[2].id", id="item-id-49-chars"),
    pytest.param(_del("items.2.id"), "items[2].id", id="missing-item-id"),
    pytest.param(_set("items.4.category", "soups"), "items[4].category", id="unknown-category"),
    pytest.param(_del("items.4.category"), "items[4].category", id="missing-category"),
    pytest.param(_set("items.4.station", "fryer"), "items[4].station", id="unknown-station"),
    pytest.param(_set("items.4.station", "expo"), "items[4].station", id="item-at-expo"),
    pytest.param(_del("items.6.price_cents"), "items[6].price_cents", id="missing-price"),
    pytest.param(_set("items.6.price_cents", -1), "items[6].price_cents", id="negative-price"),
    pytest.param(_set("items.6.price_cents", 32.5), "items[6].price_cents", id="float-price"),
    pytest.param(_set("items.6.price_cents", "3200"), "items[6].price_cents", id="text-price"),
    pytest.param(_set("items.6.price_cents", True), "items[6].price_cents", id="bool-price"),
    pytest.param(
        _set("items.6.price_cents", MAX_PRICE_CENTS + 1), "items[6].price_cents", id="huge-price"
    ),
    pytest.param(_set("items.6.price_per_grams", 0), "items[6].price_per_grams", id="per-grams-0"),
    pytest.param(
        _set("items.6.price_per_grams", 100_001), "items[6].price_per_grams", id="per-grams-huge"
    ),
    pytest.param(
        _set("items.6.price_per_grams", "100"), "items[6].price_per_grams", id="per-grams-text"
    ),
    pytest.param(
        _set("items.6.price_per_grams", 2.5), "items[6].price_per_grams", id="per-grams-float"
    ),
    pytest.param(
        _set("items.6.price_per_grams", True), "items[6].price_per_grams", id="per-grams-bool"
    ),
    pytest.param(_set("items.6.name", {"fr": "Entrecôte"}), "items[6].name", id="name-no-en"),
    pytest.param(_set("items.6.name", 5), "items[6].name", id="name-number"),
    pytest.param(_set("items.6.name.en", "x" * 201), "items[6].name.en", id="name-too-long"),
    pytest.param(_set("items.6.description", ["x"]), "items[6].description", id="description-list"),
    pytest.param(_set("items.6.available", "yes"), "items[6].available", id="available-text"),
    pytest.param(_set("items.6.image", "img/steak.jpg"), "items[6].image", id="image-relative"),
    pytest.param(
        _set("items.6.image", "https://cdn.example/steak.jpg"), "items[6].image", id="image-url"
    ),
    pytest.param(_set("items.6.image", "/img/steak.jpg"), "items[6].image", id="image-elsewhere"),
    pytest.param(_set("items.6.image", "/static"), "items[6].image", id="image-static-no-slash"),
    pytest.param(_set("items.6.image", 7), "items[6].image", id="image-number"),
    pytest.param(
        _set("items.0.allergens", ["gluten", "plutonium"]),
        "items[0].allergens[1]",
        id="unknown-allergen",
    ),
    pytest.param(_set("items.0.dietary", ["keto"]), "items[0].dietary[0]", id="unknown-dietary"),
    pytest.param(_set("items.0.allergens", "gluten"), "items[0].allergens", id="labels-not-list"),
    pytest.param(_set("items.0.allergens", [3]), "items[0].allergens[0]", id="label-not-text"),
    pytest.param(
        _set("labels.allergens.bad key", "Bad"), "labels.allergens", id="label-key-not-id"
    ),
    pytest.param(
        _set("labels.dietary.vegan", {"fr": "Végétalien"}),
        "labels.dietary.vegan",
        id="label-name-no-en",
    ),
    pytest.param(_set("labels.dietary", ["vegan"]), "labels.dietary", id="labels-kind-list"),
    pytest.param(_set(f"{G0}.min", 3), f"{G0F}.max", id="min-over-max"),
    pytest.param(_set(f"{G0}.min", 5), f"{G0F}.min", id="min-over-options"),
    pytest.param(_set(f"{G0}.min", -1), f"{G0F}.min", id="negative-min"),
    pytest.param(_set(f"{G0}.max", 0), f"{G0F}.max", id="max-0"),
    pytest.param(_set(f"{G0}.max", 5), f"{G0F}.max", id="max-over-options"),
    pytest.param(_set(f"{G0}.options", []), f"{G0F}.options", id="no-options"),
    pytest.param(_del(f"{G0}.options"), f"{G0F}.options", id="missing-options"),
    pytest.param(_del(f"{G0}.id"), f"{G0F}.id", id="missing-group-id"),
    pytest.param(_del(f"{G0}.name"), f"{G0F}.name", id="missing-group-name"),
    pytest.param(
        _copy_id(f"{G0}.options.0", f"{G0}.options.2"),
        f"{G0F}.options[2].id",
        id="duplicate-option",
    ),
    pytest.param(
        _copy_id(
            f"items.{PORK_BELLY}.modifier_groups.0.options.1",
            f"items.{PORK_BELLY}.modifier_groups.1.options.3",
        ),
        f"items[{PORK_BELLY}].modifier_groups[1].options[3].id",
        id="duplicate-option-across-groups",
    ),
    pytest.param(_set(f"{G0}.options.1.id", "a b"), f"{G0F}.options[1].id", id="bad-option-id"),
    pytest.param(_del(f"{G0}.options.1.name"), f"{G0F}.options[1].name", id="missing-opt-name"),
    pytest.param(
        _set(f"{G0}.options.1.price_delta_cents", -MAX_PRICE_CENTS - 1),
        f"{G0F}.options[1].price_delta_cents",
        id="delta-too-low",
    ),
    pytest.param(
        _set(f"{G0}.options.1.price_delta_cents", "50"),
        f"{G0F}.options[1].price_delta_cents",
        id="delta-text",
    ),
    pytest.param(_set("tables", {"count": 0}), "tables.count", id="tables-count-0"),
    pytest.param(_set("tables", {"count": 501}), "tables.count", id="tables-count-501"),
    pytest.param(_set("tables", {"count": "12"}), "tables.count", id="tables-count-text"),
    pytest.param(_set("tables", {"count": 2.0}), "tables.count", id="tables-count-float"),
    pytest.param(_set("tables", {"n": 12}), "tables", id="tables-object-no-count"),
    pytest.param(_set("tables", "T1,T2"), "tables", id="tables-text"),
    pytest.param(_set("tables.3.id", "T 4"), "tables[3].id", id="bad-table-id"),
    pytest.param(_del("tables.3.id"), "tables[3].id", id="missing-table-id"),
    pytest.param(_set("tables.3.name", ""), "tables[3].name", id="empty-table-name"),
    pytest.param(_set("tables.3.name", "x" * 41), "tables[3].name", id="long-table-name"),
]


@pytest.mark.parametrize(("edit", "field"), BAD_DOCUMENTS)
def test_bad_document_names_the_field(menu_doc: Doc, edit: Edit, field: str) -> None:
    edit(menu_doc)

    with pytest.raises(MenuInvalid) as err:
        parse_menu(menu_doc)

    assert err.value.field == field
    assert err.value.code == "invalid_menu"
    assert err.value.message


@pytest.mark.parametrize("doc", [None, [], "menu", 3])
def test_a_document_that_is_not_an_object_is_invalid(doc: object) -> None:
    with pytest.raises(MenuInvalid) as err:
        parse_menu(doc)

    assert err.value.field is None
    assert isinstance(err.value, InvalidInput)
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        pytest.param(_set("labels", ["gluten"]), "labels", id="labels-list"),
        pytest.param(_set("stations.0", "grill"), "stations[0]", id="station-text"),
        pytest.param(
            _set("items.0.modifier_groups", 5), "items[0].modifier_groups", id="groups-number"
        ),
        pytest.param(_set("items.0.category", ["mains"]), "items[0].category", id="category-list"),
        pytest.param(_set("store.languages", 5), "store.languages", id="languages-number"),
        pytest.param(
            _set("stations.0.keymap", {"bump": 66}), "stations[0].keymap", id="keymap-value-number"
        ),
    ],
)
def test_wrongly_shaped_values_raise_menu_invalid(menu_doc: Doc, edit: Edit, field: str) -> None:
    edit(menu_doc)

    with pytest.raises(MenuInvalid) as err:
        parse_menu(menu_doc)

    assert err.value.field == field


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        pytest.param(_set("items.2.id", "chicken-satay\n"), "items[2].id", id="item"),
        pytest.param(_set("tables.0.id", "T1\n"), "tables[0].id", id="table"),
        pytest.param(_set("stations.3.id", "bar\n"), "stations[3].id", id="station"),
    ],
)
def test_id_with_trailing_newline_is_invalid(menu_doc: Doc, edit: Edit, field: str) -> None:
    edit(menu_doc)

    with pytest.raises(MenuInvalid) as err:
        parse_menu(menu_doc)

    assert err.value.field == field


def test_duplicate_table_id_is_invalid(menu_doc: Doc) -> None:
    menu_doc["tables"][5]["id"] = "T1"

    with pytest.raises(MenuInvalid) as err:
        parse_menu(menu_doc)

    assert err.value.field == "tables[5].id"
