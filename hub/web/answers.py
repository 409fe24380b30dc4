"""The answers' schemas in the OpenAPI document: what the hub answers diners and cooks most.

Written from what the handlers answer (hub.domain.events' structs as JSON, the catalogue's
menu view, the pacer's additions); docs/api.md says the same in prose. Every field is typed;
`required` lists the fields always there; an answer may grow (`additionalProperties`).
A field the encoder leaves out while unset (a line's `grams` before it is weighed) is typed
but not required."""

from __future__ import annotations

from typing import Any

STRING = {"type": "string"}
INTEGER = {"type": "integer"}
BOOLEAN = {"type": "boolean"}
TEXT_OR_NULL = {"type": ["string", "null"]}
INTEGER_OR_NULL = {"type": ["integer", "null"]}
STRINGS = {"type": "array", "items": STRING}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(
    properties: dict[str, Any], optional: tuple[str, ...] = (), **more: Any
) -> dict[str, Any]:
    """An object with `properties`, each one always there but the `optional` ones."""
    required = [name for name in properties if name not in optional]
    return {
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": True,
        **more,
    }


def _list(name: str) -> dict[str, Any]:
    return {"type": "array", "items": ref(name)}


# a text in each of the store's languages (a menu's name always has `en`; a description may be
# empty)
NAMES = {"type": "object", "additionalProperties": STRING}

TABLE_REF = _object({"id": STRING, "name": STRING})

# units of a line taken off the check: a void, or a comp (made and given away)
LINE_VOID = _object({"qty": INTEGER, "reason": STRING, "comp": BOOLEAN, "by": STRING, "at": STRING})
LINE_FIELDS = _object({"qty": INTEGER, "modifiers": STRINGS, "note": TEXT_OR_NULL})
# a change of a line before it was cooked: which fields, before and after
LINE_CHANGE = _object(
    {
        "fields": STRINGS,
        "before": LINE_FIELDS,
        "after": LINE_FIELDS,
        "by": STRING,
        "at": STRING,
    }
)

ORDER_LINE = _object(
    {
        "item": STRING,
        "name": ref("Names"),
        "qty": INTEGER,
        "unit_cents": INTEGER,
        "line_cents": INTEGER,
        "modifiers": {
            "type": "array",
            "items": _object({"id": STRING, "name": ref("Names"), "price_delta_cents": INTEGER}),
        },
        "note": TEXT_OR_NULL,
        # sold by weight only: price_cents buys per_grams; grams once weighed
        "per_grams": INTEGER,
        "grams": INTEGER_OR_NULL,
        "weight_pending": BOOLEAN,
        "weighed_by": STRING,
        "seat": INTEGER_OR_NULL,
        "void_qty": INTEGER,
        "voids": {"type": "array", "items": LINE_VOID},
        "changes": {"type": "array", "items": LINE_CHANGE},
        "course": TEXT_OR_NULL,
    },
    optional=("per_grams", "grams", "weight_pending", "weighed_by"),
    description="A priced line; line_cents is the price of its qty - void_qty units.",
)

ORDER = _object(
    {
        "order_id": INTEGER,
        "number": INTEGER,
        "status": {"type": "string", "enum": ["received", "preparing", "ready", "served"]},
        "total_cents": INTEGER,
        "round": INTEGER,
        "table": ref("TableRef"),
        "created_at": STRING,
        "entered_by": TEXT_OR_NULL,
        "check_id": INTEGER,
        "lines": _list("OrderLine"),
    }
)

# [low, high] of a wait as the diner is told it (docs/api.md, "The range a wait is told in")
RANGE = {"type": "array", "items": INTEGER, "minItems": 2, "maxItems": 2}
RANGE_OR_NULL = dict(RANGE, type=["array", "null"])

COURSE_STATE = _object(
    {
        "course": TEXT_OR_NULL,
        "state": {"type": "string", "enum": ["held", "fired", "ready", "served"]},
        "eta_ms": INTEGER_OR_NULL,
        "fired_ms": INTEGER_OR_NULL,
        "served_ms": INTEGER_OR_NULL,
    }
)

# an order as GET /api/v1/orders/{order_id} answers it: with when it should be ready
ORDER_STATUS = {
    "allOf": [
        ref("Order"),
        _object(
            {
                "eta_ms": INTEGER_OR_NULL,
                "eta_range_ms": RANGE_OR_NULL,
                "courses": {"type": "array", "items": COURSE_STATE},
            }
        ),
    ]
}

CHECK = _object({"table": ref("TableRef"), "orders": _list("Order"), "total_cents": INTEGER})

CALL = _object(
    {
        "id": INTEGER,
        "table": STRING,
        "kind": {"type": "string", "enum": ["waiter", "bill", "water"]},
        "state": {"type": "string", "enum": ["open", "acked", "closed"]},
        "source": STRING,
        "escalated": BOOLEAN,
        "opened_at": STRING,
        "opened_ms": INTEGER,
        "acked_at": TEXT_OR_NULL,
        "closed_at": TEXT_OR_NULL,
    }
)

MENU_ITEM = _object(
    {
        "id": STRING,
        "category": STRING,
        "name": ref("Names"),
        "description": ref("Names"),
        "price_cents": INTEGER,
        "allergens": STRINGS,
        "dietary": STRINGS,
        "image": TEXT_OR_NULL,
        "available": BOOLEAN,
        "modifier_groups": {
            "type": "array",
            "items": _object(
                {
                    "id": STRING,
                    "name": ref("Names"),
                    "min": INTEGER,
                    "max": INTEGER,
                    "options": {
                        "type": "array",
                        "items": _object(
                            {"id": STRING, "name": ref("Names"), "price_delta_cents": INTEGER}
                        ),
                    },
                }
            ),
        },
        "price_per_grams": INTEGER,
        "stock_left": INTEGER,
        # the kitchen's waits (a second after a menu edit, a new item may not have them yet)
        "course": TEXT_OR_NULL,
        "prep_s": INTEGER,
        "wait_s": INTEGER,
        "wait_range_s": RANGE,
        "busy": BOOLEAN,
        "paused": BOOLEAN,
        "pause_message": STRING,
    },
    optional=(
        "price_per_grams",
        "stock_left",
        "course",
        "prep_s",
        "wait_s",
        "wait_range_s",
        "busy",
        "paused",
        "pause_message",
    ),
    description="An item as a table sees it: no station; stock_left only when counted.",
)

MENU = _object(
    {
        "store": _object({"name": STRING, "currency": STRING}),
        "table": _object({"id": STRING, "name": STRING, "open": BOOLEAN, "requires_pin": BOOLEAN}),
        "languages": STRINGS,
        "categories": {
            "type": "array",
            "items": _object({"id": STRING, "name": ref("Names")}),
        },
        "items": _list("MenuItem"),
        "labels": {
            "type": "object",
            "additionalProperties": {"type": "object", "additionalProperties": ref("Names")},
        },
        "courses": {
            "type": "array",
            "items": _object({"id": STRING, "name": ref("Names"), "hold": BOOLEAN}),
        },
        "wait_s": INTEGER,
        "wait_range_s": RANGE,
    }
)

TICKET_LINE = _object(
    {
        "idx": INTEGER,
        "item": STRING,
        "name": ref("Names"),
        "qty": INTEGER,
        "modifiers": {"type": "array", "items": _object({"id": STRING, "name": ref("Names")})},
        "note": TEXT_OR_NULL,
        "allergens": STRINGS,
        "per_grams": INTEGER,
        "grams": INTEGER_OR_NULL,
        "bumped": BOOLEAN,
        "seat": INTEGER_OR_NULL,
        "void_qty": INTEGER,
        "void_reason": TEXT_OR_NULL,
        "changed": STRINGS,
        "course": TEXT_OR_NULL,
        "prep_s": INTEGER,
        "start_at_ms": INTEGER,
    },
    optional=("per_grams", "grams"),
)

TICKET = _object(
    {
        "id": INTEGER,
        "order_id": INTEGER,
        "number": INTEGER,
        "station": STRING,
        "status": {"type": "string", "enum": ["held", "open", "bumped"]},
        "round": INTEGER,
        "table": ref("TableRef"),
        "created_at": STRING,
        "created_ms": INTEGER,
        "bumped_at": TEXT_OR_NULL,
        "printed_on": STRING,
        "course": TEXT_OR_NULL,
        "fired_ms": INTEGER,
        "start_at_ms": INTEGER,
        "due_ms": INTEGER,
        "expected_s": INTEGER,
        "held_visible": BOOLEAN,
        "started_ms": INTEGER,
        "items": _list("TicketLine"),
    },
    optional=("printed_on",),  # only a ticket sent to a fallback printer
    description="A station's part of an order (of one course).",
)

STATION_TICKETS = _object(
    {
        "station": STRING,
        "tickets": _list("Ticket"),
        "recent": _list("Ticket"),
        "all_day": {
            "type": "array",
            "items": _object({"item": STRING, "name": ref("Names"), "qty": INTEGER}),
        },
        "held": _list("Ticket"),
    },
    optional=("held",),  # a hub without pacing
)


def answer_components() -> dict[str, Any]:
    """The answers' named schemas, for the document's components."""
    return {
        "Names": NAMES,
        "TableRef": TABLE_REF,
        "OrderLine": ORDER_LINE,
        "Order": ORDER,
        "OrderStatus": ORDER_STATUS,
        "Check": CHECK,
        "Call": CALL,
        "MenuItem": MENU_ITEM,
        "Menu": MENU,
        "TicketLine": TICKET_LINE,
        "Ticket": TICKET,
        "StationTickets": STATION_TICKETS,
    }
