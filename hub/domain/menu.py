"""The menu: stations, categories, items and their modifier groups, parsed and checked.

A menu document (the menu file, or an edit through the admin API) is a plain dict; `parse_menu`
turns it into frozen dataclasses or raises `MenuInvalid` naming the offending field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from hub.errors import MenuInvalid

LANGUAGES = ("en", "zh-Hans", "zh-Hant")
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$")
MAX_PRICE_CENTS = 10_000_000

Names = Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Option:
    id: str
    name: Names
    price_delta_cents: int = 0


@dataclass(frozen=True, slots=True)
class ModifierGroup:
    id: str
    name: Names
    min: int
    max: int
    options: tuple[Option, ...]


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    category: str
    station: str
    name: Names
    price_cents: int
    description: Names = field(default_factory=dict)
    allergens: tuple[str, ...] = ()
    dietary: tuple[str, ...] = ()
    image: str | None = None
    available: bool = True
    modifier_groups: tuple[ModifierGroup, ...] = ()
    price_per_grams: int | None = None  # sold by weight: price_cents buys this many grams
    course: str | None = None  # None: the category's course
    prep_s: int | None = None  # None: the station's prep_s until the hub has learnt it

    def option(self, option_id: str) -> tuple[ModifierGroup, Option] | None:
        for group in self.modifier_groups:
            for opt in group.options:
                if opt.id == option_id:
                    return group, opt
        return None


@dataclass(frozen=True, slots=True)
class Station:
    id: str
    name: Names
    warn_seconds: int = 300
    late_seconds: int = 600
    keymap: Mapping[str, tuple[str, ...]] | None = None
    prep_s: int = 600  # what an item of this station takes when the menu does not say


@dataclass(frozen=True, slots=True)
class Category:
    id: str
    name: Names
    course: str | None = None  # the course of its items (None: no course, sent at once)


@dataclass(frozen=True, slots=True)
class Course:
    """A course of a meal, in firing order: later courses of an order are held until fired.
    `hold` false: never held (drinks go as soon as ordered)."""

    id: str
    name: Names
    hold: bool = True


@dataclass(frozen=True, slots=True)
class StoreInfo:
    id: str
    name: str
    currency: str = "USD"
    languages: tuple[str, ...] = LANGUAGES


@dataclass(frozen=True, slots=True)
class TableSpec:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Menu:
    store: StoreInfo
    stations: tuple[Station, ...]
    categories: tuple[Category, ...]
    items: Mapping[str, Item]
    labels: Mapping[str, Mapping[str, Names]]
    tables: tuple[TableSpec, ...] = ()
    courses: tuple[Course, ...] = ()

    def course_of(self, item: Item) -> str | None:
        """An item's course: its own, else its category's; None when the menu has none."""
        if item.course is not None:
            return item.course
        cat = next((c for c in self.categories if c.id == item.category), None)
        return None if cat is None else cat.course

    def course(self, course_id: str) -> Course | None:
        return next((c for c in self.courses if c.id == course_id), None)

    def course_rank(self, course_id: str | None) -> int:
        """Firing order of a course: its place in `courses`; -1 for no course (at once)."""
        for i, c in enumerate(self.courses):
            if c.id == course_id:
                return i
        return -1

    def prep_default(self, item: Item) -> int:
        """An item's prep time as the menu says: its own, else its station's."""
        if item.prep_s is not None:
            return item.prep_s
        st = self.station(item.station)
        return 600 if st is None else st.prep_s

    def station(self, station_id: str) -> Station | None:
        return next((s for s in self.stations if s.id == station_id), None)

    def with_availability(self, item_id: str, available: bool) -> Menu:
        items = dict(self.items)
        items[item_id] = replace(items[item_id], available=available)
        return replace(self, items=items)

    def sold_out(self) -> list[str]:
        return [i.id for i in self.items.values() if not i.available]


# ---------------------------------------------------------------- parsing


def _req(d: Mapping[str, Any], key: str, path: str) -> Any:
    if not isinstance(d, Mapping):
        raise MenuInvalid("must be an object", field=path)
    if key not in d:
        raise MenuInvalid(f"'{key}' is required", field=f"{path}.{key}" if path else key)
    return d[key]


def _id(value: Any, path: str) -> str:
    if not isinstance(value, str) or not ID_RE.fullmatch(value):
        raise MenuInvalid("must be an id: letters, digits, '-' or '_', 1-48 long", field=path)
    return value


def _int(value: Any, path: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise MenuInvalid(f"must be a whole number from {lo} to {hi}", field=path)
    return value


def _names(value: Any, path: str, *, required: bool = True) -> dict[str, str]:
    if isinstance(value, str):
        value = {"en": value}
    if value is None and not required:
        return {}
    if not isinstance(value, Mapping) or (required and "en" not in value):
        raise MenuInvalid("must be a text or a map of language to text with 'en'", field=path)
    out: dict[str, str] = {}
    for lang, text in value.items():
        if not isinstance(text, str) or len(text) > 200:
            raise MenuInvalid("must be a text of at most 200 characters", field=f"{path}.{lang}")
        out[str(lang)] = text
    return out


def _list(value: Any, path: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise MenuInvalid("must be a list", field=path)
    return value


def _languages(value: Any) -> tuple[str, ...]:
    if value is None:
        return LANGUAGES
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or not value:
        raise MenuInvalid("must be a list of language codes", field="store.languages")
    return tuple(value)


def _worst_case_cents(item: Item) -> int:
    """The lowest price any allowed choice of options can give one piece of `item`."""
    low = item.price_cents
    for g in item.modifier_groups:
        negatives = sorted(o.price_delta_cents for o in g.options if o.price_delta_cents < 0)
        low += sum(negatives[: g.max])
    return low


def _str_list(value: Any, path: str, allowed: Mapping[str, Any] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise MenuInvalid("must be a list", field=path)
    for i, v in enumerate(value):
        if not isinstance(v, str) or (allowed is not None and v not in allowed):
            raise MenuInvalid("unknown label", field=f"{path}[{i}]")
    return tuple(value)


def _group(g: Any, path: str, seen_options: set[str]) -> ModifierGroup:
    options: list[Option] = []
    raw_opts = _req(g, "options", path)
    if not isinstance(raw_opts, list) or not raw_opts:
        raise MenuInvalid("must be a non-empty list", field=f"{path}.options")
    for j, o in enumerate(raw_opts):
        opath = f"{path}.options[{j}]"
        oid = _id(_req(o, "id", opath), f"{opath}.id")
        if oid in seen_options:
            raise MenuInvalid("duplicate option id", field=f"{opath}.id")
        seen_options.add(oid)
        delta = _int(
            o.get("price_delta_cents", 0),
            f"{opath}.price_delta_cents",
            -MAX_PRICE_CENTS,
            MAX_PRICE_CENTS,
        )
        options.append(Option(oid, _names(_req(o, "name", opath), f"{opath}.name"), delta))
    lo = _int(g.get("min", 0), f"{path}.min", 0, len(options))
    hi = _int(g.get("max", len(options)), f"{path}.max", max(lo, 1), len(options))
    gid = _id(_req(g, "id", path), f"{path}.id")
    return ModifierGroup(gid, _names(_req(g, "name", path), f"{path}.name"), lo, hi, tuple(options))


MAX_PREP_S = 4 * 3600


def _course_ref(value: Any, path: str, courses: set[str] | frozenset[str]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value not in courses:
        raise MenuInvalid("unknown course (see 'courses')", field=path)
    return value


def _item(
    it: Any,
    path: str,
    cats: set[str],
    stations: set[str],
    labels: Mapping[str, Mapping[str, Names]],
    courses: set[str] | frozenset[str] = frozenset(),
) -> Item:
    category = _req(it, "category", path)
    if not isinstance(category, str) or category not in cats:
        raise MenuInvalid("unknown category", field=f"{path}.category")
    station = _req(it, "station", path)
    if station not in stations:
        raise MenuInvalid("unknown station", field=f"{path}.station")
    seen: set[str] = set()
    groups = tuple(
        _group(g, f"{path}.modifier_groups[{k}]", seen)
        for k, g in enumerate(_list(it.get("modifier_groups"), f"{path}.modifier_groups"))
    )
    image = it.get("image")
    if image is not None and (not isinstance(image, str) or not image.startswith("/static/")):
        raise MenuInvalid("must be a path under /static/ or null", field=f"{path}.image")
    available = it.get("available", True)
    if not isinstance(available, bool):
        raise MenuInvalid("must be true or false", field=f"{path}.available")
    return Item(
        id=_id(_req(it, "id", path), f"{path}.id"),
        category=category,
        station=station,
        name=_names(_req(it, "name", path), f"{path}.name"),
        price_cents=_int(_req(it, "price_cents", path), f"{path}.price_cents", 0, MAX_PRICE_CENTS),
        price_per_grams=(
            None
            if it.get("price_per_grams") is None
            else _int(it["price_per_grams"], f"{path}.price_per_grams", 1, 100_000)
        ),
        description=_names(it.get("description"), f"{path}.description", required=False),
        allergens=_str_list(it.get("allergens"), f"{path}.allergens", labels.get("allergens")),
        dietary=_str_list(it.get("dietary"), f"{path}.dietary", labels.get("dietary")),
        image=image,
        available=available,
        modifier_groups=groups,
        course=_course_ref(it.get("course"), f"{path}.course", courses),
        prep_s=(
            None
            if it.get("prep_s") is None
            else _int(it["prep_s"], f"{path}.prep_s", 1, MAX_PREP_S)
        ),
    )


def _station(s: Any, path: str) -> Station:
    if not isinstance(s, Mapping):
        raise MenuInvalid("must be an object", field=path)
    warn = _int(s.get("warn_seconds", 300), f"{path}.warn_seconds", 1, 86_400)
    late = _int(s.get("late_seconds", 600), f"{path}.late_seconds", warn, 86_400)
    keymap = s.get("keymap")
    if keymap is not None:
        if not isinstance(keymap, Mapping) or not set(keymap) <= {"bump", "recall", "next", "prev"}:
            raise MenuInvalid("keys must be bump, recall, next, prev", field=f"{path}.keymap")
        if not all(
            isinstance(v, list) and all(isinstance(x, str) for x in v) for v in keymap.values()
        ):
            raise MenuInvalid("each action maps to a list of key names", field=f"{path}.keymap")
        keymap = {k: tuple(v) for k, v in keymap.items()}
    sid = _id(_req(s, "id", path), f"{path}.id")
    if sid == "expo":
        raise MenuInvalid("'expo' is reserved for the expediter view", field=f"{path}.id")
    prep = _int(s.get("prep_s", 600), f"{path}.prep_s", 1, MAX_PREP_S)
    return Station(sid, _names(_req(s, "name", path), f"{path}.name"), warn, late, keymap, prep)


def _courses(raw: Any) -> tuple[Course, ...]:
    out = []
    for i, c in enumerate(_list(raw, "courses")):
        path = f"courses[{i}]"
        hold = c.get("hold", True) if isinstance(c, Mapping) else True
        if not isinstance(hold, bool):
            raise MenuInvalid("must be true or false", field=f"{path}.hold")
        cid = _id(_req(c, "id", path), f"{path}.id")
        out.append(Course(cid, _names(_req(c, "name", path), f"{path}.name"), hold))
    _unique([c.id for c in out], "courses")
    return tuple(out)


def _tables(raw: Any) -> tuple[TableSpec, ...]:
    if raw is None:
        return ()
    if isinstance(raw, Mapping) and "count" in raw:
        n = _int(raw["count"], "tables.count", 1, 500)
        return tuple(TableSpec(f"T{i}", f"Table {i}") for i in range(1, n + 1))
    if not isinstance(raw, list):
        raise MenuInvalid("must be a list or {'count': n}", field="tables")
    out = []
    for i, t in enumerate(raw):
        tid = _id(_req(t, "id", f"tables[{i}]"), f"tables[{i}].id")
        name = t.get("name", tid)
        if not isinstance(name, str) or not 0 < len(name) <= 40:
            raise MenuInvalid("must be a text of 1-40 characters", field=f"tables[{i}].name")
        out.append(TableSpec(tid, name))
    _unique([t.id for t in out], "tables")
    return tuple(out)


def _unique(ids: list[str], path: str) -> None:
    seen: set[str] = set()
    for i, x in enumerate(ids):
        if x in seen:
            raise MenuInvalid(f"duplicate id '{x}'", field=f"{path}[{i}].id")
        seen.add(x)


def parse_menu(doc: Any) -> Menu:
    """Check a menu document and build the `Menu`; raises `MenuInvalid` naming the field."""
    if not isinstance(doc, Mapping):
        raise MenuInvalid("the menu must be a JSON object", field=None)
    st = _req(doc, "store", "")
    store = StoreInfo(
        id=_id(_req(st, "id", "store"), "store.id"),
        name=str(_req(st, "name", "store"))[:80],
        currency=str(st.get("currency", "USD"))[:3].upper(),
        languages=_languages(st.get("languages")),
    )
    raw_stations = _req(doc, "stations", "")
    if not isinstance(raw_stations, list) or not raw_stations:
        raise MenuInvalid("at least one station is needed", field="stations")
    stations = tuple(_station(s, f"stations[{i}]") for i, s in enumerate(raw_stations))
    _unique([s.id for s in stations], "stations")
    labels_raw = doc.get("labels") or {}
    if not isinstance(labels_raw, Mapping):
        raise MenuInvalid("must be an object", field="labels")
    labels: dict[str, dict[str, dict[str, str]]] = {}
    for kind in ("allergens", "dietary"):
        raw = labels_raw.get(kind) or {}
        if not isinstance(raw, Mapping):
            raise MenuInvalid("must be an object", field=f"labels.{kind}")
        labels[kind] = {
            _id(k, f"labels.{kind}"): _names(v, f"labels.{kind}.{k}") for k, v in raw.items()
        }
    courses = _courses(doc.get("courses"))
    course_ids = {c.id for c in courses}
    raw_cats = _req(doc, "categories", "")
    if not isinstance(raw_cats, list):
        raise MenuInvalid("must be a list", field="categories")
    categories = tuple(
        Category(
            _id(_req(c, "id", f"categories[{i}]"), f"categories[{i}].id"),
            _names(_req(c, "name", f"categories[{i}]"), f"categories[{i}].name"),
            _course_ref(c.get("course"), f"categories[{i}].course", course_ids),
        )
        for i, c in enumerate(raw_cats)
    )
    _unique([c.id for c in categories], "categories")
    raw_items = _req(doc, "items", "")
    if not isinstance(raw_items, list):
        raise MenuInvalid("must be a list", field="items")
    cat_ids, station_ids = {c.id for c in categories}, {s.id for s in stations}
    items = [
        _item(it, f"items[{i}]", cat_ids, station_ids, labels, course_ids)
        for i, it in enumerate(raw_items)
    ]
    _unique([i.id for i in items], "items")
    for i, item in enumerate(items):
        if _worst_case_cents(item) < 0:
            raise MenuInvalid(
                "options can take this item's price below zero", field=f"items[{i}].modifier_groups"
            )
    return Menu(
        store,
        stations,
        categories,
        {i.id: i for i in items},
        labels,
        _tables(doc.get("tables")),
        courses,
    )


def menu_to_doc(menu: Menu) -> dict[str, Any]:
    """The inverse of `parse_menu`: the document that would parse back to `menu`."""
    return {
        "store": {
            "id": menu.store.id,
            "name": menu.store.name,
            "currency": menu.store.currency,
            "languages": list(menu.store.languages),
        },
        "stations": [station_doc(s) for s in menu.stations],
        "labels": {k: {lk: dict(lv) for lk, lv in v.items()} for k, v in menu.labels.items()},
        "categories": [category_doc(c) for c in menu.categories],
        "items": [item_doc(i) for i in menu.items.values()],
        "tables": [{"id": t.id, "name": t.name} for t in menu.tables],
        "courses": [{"id": c.id, "name": dict(c.name), "hold": c.hold} for c in menu.courses],
    }


def category_doc(c: Category) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": c.id, "name": dict(c.name)}
    if c.course is not None:
        doc["course"] = c.course
    return doc


def station_doc(s: Station) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": s.id,
        "name": dict(s.name),
        "warn_seconds": s.warn_seconds,
        "late_seconds": s.late_seconds,
        "prep_s": s.prep_s,
    }
    if s.keymap is not None:
        doc["keymap"] = {k: list(v) for k, v in s.keymap.items()}
    return doc


def item_doc(i: Item) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": i.id,
        "category": i.category,
        "station": i.station,
        "name": dict(i.name),
        "description": dict(i.description),
        "price_cents": i.price_cents,
        "allergens": list(i.allergens),
        "dietary": list(i.dietary),
        "image": i.image,
        "available": i.available,
        "modifier_groups": [
            {
                "id": g.id,
                "name": dict(g.name),
                "min": g.min,
                "max": g.max,
                "options": [
                    {"id": o.id, "name": dict(o.name), "price_delta_cents": o.price_delta_cents}
                    for o in g.options
                ],
            }
            for g in i.modifier_groups
        ],
    }
    if i.price_per_grams is not None:
        doc["price_per_grams"] = i.price_per_grams
    if i.course is not None:
        doc["course"] = i.course
    if i.prep_s is not None:
        doc["prep_s"] = i.prep_s
    return doc
