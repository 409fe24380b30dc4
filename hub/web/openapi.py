"""The OpenAPI 3.1 document of /api/v1, built from the request types in `schemas`.

Each operation states only what is its own: tag, summary, error statuses, body, extra
parameters. Path parameters come from the path; the answers and the staff sign-in are
filled in by the helpers below."""

from __future__ import annotations

import re
from functools import cache, partial
from typing import Any

from hub import __version__
from hub.domain.stats import MAX_HOURS
from hub.web.answers import answer_components, ref
from hub.web.auth import CSRF_HEADER, CSRF_VALUE
from hub.web.bodies import route_body_limit
from hub.web.schemas import schema_components

ERROR = {"$ref": "#/components/schemas/Error"}
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "field", "message"],
    "properties": {
        "error": {"type": "string"},
        "field": {"type": ["string", "null"]},
        "message": {"type": "string"},
        "left": {"type": "integer"},  # not_enough_left: the portions that remain
    },
    "additionalProperties": True,
}
MENU_DOCUMENT = {
    "type": "object",
    "required": ["store", "stations", "categories", "items"],
    "description": "The menu file's format; see docs/menu.md. What refers to what (an item's "
    "category and station, unique ids) is checked by the hub: 422 naming the field.",
    "properties": {
        "store": {"type": "object"},
        "stations": {"type": "array", "minItems": 1, "items": {"type": "object"}},
        "categories": {"type": "array", "items": {"type": "object"}},
        "items": {"type": "array", "items": {"type": "object"}},
    },
}
# path parameters the store counts (whole numbers); every other one is a string
INTEGER_PARAMS = frozenset({"order_id", "ticket_id", "call_id", "line"})
CREATED = 201
_PATH_PARAM = re.compile(r"\{(\w+)\}")


def _answer(description: str, schema: dict[str, Any], media: str) -> dict[str, Any]:
    return {"description": description, "content": {media: {"schema": schema}}}


def _no_content(op: dict[str, Any], code: int = 204) -> dict[str, Any]:
    """`op` answers `code` with no body instead of its JSON object."""
    op["responses"].pop("200", None)
    op["responses"][str(code)] = {"description": "done"}
    return op


def _errors(*codes: int) -> dict[str, Any]:
    """The error answers `codes`, each with the JSON error body (error, field, message)."""
    return {str(code): _answer("error", ERROR, "application/json") for code in codes}


# bodies whose every field is optional: the hub takes an empty body as `{}` (a bump, start,
# recall or serve without an action id; a table's bills without a part)
OPTIONAL_BODIES = frozenset({"ActionIn", "BumpIn", "BillsIn"})


def _json_body(component: str) -> dict[str, Any]:
    """A JSON request body: the schema `component` (required unless all of it is optional)."""
    schema = {"$ref": f"#/components/schemas/{component}"}
    required = component not in OPTIONAL_BODIES
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def _staff_only(op: dict[str, Any]) -> dict[str, Any]:
    """`op` needs a staff token (bearer or a paired screen's cookie): 401 without one,
    403 when its role may not."""
    op["security"] = [{"bearer": []}]
    op["responses"].update(_errors(401, 403))
    op["responses"]["401"]["headers"] = {
        "WWW-Authenticate": {"required": True, "schema": {"type": "string", "const": "Bearer"}}
    }
    return op


def _param(
    name: str, where: str = "path", schema: dict[str, Any] | None = None, required: bool = True
) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required, "schema": schema or {"type": "string"}}


def _path_params(path: str) -> list[dict[str, Any]]:
    return [
        _param(name, schema={"type": "integer" if name in INTEGER_PARAMS else "string"})
        for name in _PATH_PARAM.findall(path)
    ]


def _op(
    tag: str,
    summary: str,
    errors: tuple[int, ...] = (),
    *,
    staff: bool = False,
    body: str | None = None,
    ok: int = 200,
    params: tuple[dict[str, Any], ...] = (),
    binary: str | None = None,
    answer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An operation answering `ok` with a JSON object of the schema `answer` (any object
    without; or a `binary` file of that media type) and `errors` with the JSON error body.
    Its path parameters are added with its path. An operation with a body may also answer
    400 (not JSON), 408 (the body did not arrive in time) and 413 (too large), whatever its
    handler does."""
    if body:
        errors = tuple(sorted(set(errors) | {400, 408, 413}))
    success = (
        _answer("OK", {"type": "string", "format": "binary"}, binary)
        if binary
        else _answer("OK", answer or {"type": "object"}, "application/json")
    )
    op: dict[str, Any] = {
        "summary": summary,
        "tags": [tag],
        "parameters": list(params),
        "responses": {str(ok): success} | _errors(*errors),
    }
    if body:
        op["requestBody"] = _json_body(body)
    return _staff_only(op) if staff else op


_staff = partial(_op, staff=True)  # an operation for staff only


def _also(
    op: dict[str, Any], code: int, description: str, answer: dict[str, Any] | None = None
) -> dict[str, Any]:
    """`op` answers `code` too, with a JSON object (of the schema `answer`) that is not the
    error body."""
    schema = answer or {"type": "object"}
    op["responses"][str(code)] = _answer(description, schema, "application/json")
    return op


def _replayable(op: dict[str, Any]) -> dict[str, Any]:
    """`op` is answered from its idempotency key first: a retry gets the order taken."""
    op["description"] = (
        "The key is looked up before anything else: sending it again with the same body "
        "returns the order already taken (201, `Idempotent-Replayed: true`) even if an item "
        "was sold out, the table closed or rate limited, or the menu changed since; with "
        "another body it is 409 `idempotency_mismatch`."
    )
    op["responses"][str(CREATED)]["headers"] = {
        "Idempotent-Replayed": {"required": False, "schema": {"type": "string", "const": "true"}}
    }
    return op


TABLE_Q = _param("table", "query")
HOURS_Q = _param(
    "hours",
    "query",
    {"type": "integer", "minimum": 1, "maximum": MAX_HOURS, "default": 12},
    required=False,
)
CSRF_H = _param(CSRF_HEADER, "header", {"type": "string", "enum": [CSRF_VALUE]})


def _operations() -> dict[str, dict[str, Any]]:
    """Every operation, by "METHOD /path"."""
    return {
        # ------------------------------------------------------------ diner
        "GET /api/v1/menu": _op(
            "diner", "The menu a table sees", (403,), params=(TABLE_Q,), answer=ref("Menu")
        ),
        "POST /api/v1/orders": _replayable(
            _op(
                "diner",
                "Place an order (idempotent on idempotency_key)",
                (400, 403, 409, 413, 422, 429, 503),
                body="OrderIn",
                ok=CREATED,
                answer=ref("Order"),
            )
        ),
        "GET /api/v1/orders/{order_id}": _op(
            "diner",
            "An order and its status",
            (401, 403, 404),
            params=(_param("table", "query", required=False),),
            answer=ref("OrderStatus"),
        ),
        "GET /api/v1/check": _op(
            "diner", "The table's open check", (403,), params=(TABLE_Q,), answer=ref("Check")
        ),
        "POST /api/v1/calls": _also(
            _op(
                "diner",
                "Call staff to the table (waiter, bill, water)",
                (400, 403, 422, 429),
                body="CallIn",
                ok=CREATED,
                answer=ref("Call"),
            ),
            200,
            "The call of that kind already open",
            ref("Call"),
        ),
        # ------------------------------------------------------------ kitchen
        "GET /api/v1/stations": _staff("kitchen", "Stations"),
        "GET /api/v1/stations/{station}/tickets": _staff(
            "kitchen",
            "Open and recently bumped tickets of a station ('expo': all)",
            (404,),
            answer=ref("StationTickets"),
        ),
        "POST /api/v1/tickets/{ticket_id}/bump": _staff(
            "kitchen",
            "Bump a ticket, or one item of it",
            (400, 404, 409, 422),
            body="BumpIn",
            answer=ref("Ticket"),
        ),
        "POST /api/v1/tickets/{ticket_id}/start": _staff(
            "kitchen",
            "A cook starts a ticket (its course's other tickets are timed to land with it)",
            (400, 404, 409, 422),
            body="ActionIn",
            answer=ref("Ticket"),
        ),
        "POST /api/v1/tickets/{ticket_id}/recall": _staff(
            "kitchen",
            "Recall a bumped ticket",
            (400, 404, 409, 422),
            body="ActionIn",
            answer=ref("Ticket"),
        ),
        "POST /api/v1/stations/{station}/recall": _staff(
            "kitchen",
            "Recall the station's last bumped ticket",
            (400, 404, 409, 422),
            body="ActionIn",
            answer=ref("Ticket"),
        ),
        "POST /api/v1/orders/{order_id}/serve": _staff(
            "kitchen",
            "Mark an order served",
            (400, 404, 409, 422),
            body="ActionIn",
            answer=ref("Order"),
        ),
        "GET /api/v1/items": _staff("kitchen", "Every menu item with its station"),
        "POST /api/v1/items/{item_id}/availability": _staff(
            "kitchen",
            "Mark an item sold out (86) or available",
            (400, 404, 422),
            body="AvailabilityIn",
        ),
        "POST /api/v1/items/{item_id}/stock": _staff(
            "kitchen",
            "Count an item's portions left (null: stop counting), warned at low_at; at 0 it is "
            "sold out",
            (400, 404, 409, 422),
            body="StockIn",
        ),
        "POST /api/v1/orders/{order_id}/lines/{line}/weight": _staff(
            "kitchen",
            "Weigh a line sold by weight (a scale's stable reading, or grams)",
            (400, 404, 409, 422),
            body="WeightIn",
        ),
        # ------------------------------------------------------------ printing
        "GET /api/v1/printers": _staff("printing", "Printers, their health and the last jobs"),
        "POST /api/v1/printers/{printer}/test": _also(
            _staff(
                "printing", "Print a test page; answers with the real cause when it fails", (404,)
            ),
            502,
            "The test print failed: the result names the cause",
        ),
        "POST /api/v1/tickets/{ticket_id}/reprint": _staff(
            "printing", "Reprint a kitchen chit (marked REPRINT)", (404, 409), ok=CREATED
        ),
        "POST /api/v1/tables/{table_id}/bill": _staff(
            "printing", "Print the bill of the table's open check", (404, 409), ok=CREATED
        ),
        # ------------------------------------------------------------ floor
        "GET /api/v1/calls": _staff("floor", "Open table calls"),
        "POST /api/v1/calls/{call_id}/ack": _staff(
            "floor", "Acknowledge a call (the button's LED goes off)", (404, 409)
        ),
        "POST /api/v1/calls/{call_id}/close": _staff("floor", "Close a call", (404, 409)),
        "GET /api/v1/devices": _staff("floor", "Every device's presence and live scale weights"),
        "POST /api/v1/tables/{table_id}/open": _staff(
            "floor",
            "Open a table for ordering; the answer carries its PIN when the store uses PINs",
            (404,),
        ),
        "POST /api/v1/tables/{table_id}/close": _staff(
            "floor", "Close a table and its check", (404,)
        ),
        # ------------------------------------------------------------ the host stand
        "GET /api/v1/reservations": _staff(
            "booking",
            "A day's reservations (phones masked) and each table's timeline; today without date",
            (422,),
            params=(
                _param(
                    "date",
                    "query",
                    # the years 2000-2199, as a booking's time
                    {"type": "string", "format": "date", "pattern": "^2[01][0-9]{2}-"},
                    required=False,
                ),
            ),
        ),
        "POST /api/v1/reservations": _staff(
            "booking",
            "Book a table (the same id again, while booked: an edit); 409 double_booked names "
            "the clash unless override",
            (404, 409, 422),
            body="ReservationIn",
            ok=CREATED,
        ),
        "POST /api/v1/reservations/from-cloud": _staff(
            "booking",
            "The cloud bridge hands over a booking from the chain's booking site (admin): "
            "never refused for its table; a clash is saved as its conflict",
            (404, 422),
            body="CloudBookingIn",
        ),
        "POST /api/v1/reservations/{res_id}/seat": _staff(
            "booking",
            "Seat the party: its table and check open; pre-ordered dishes go to the kitchen",
            (404, 409, 422),
            body="SeatIn",
        ),
        "POST /api/v1/reservations/{res_id}/cancel": _staff(
            "booking", "Cancel a booking", (404, 409, 422), body="ActionOnlyIn"
        ),
        "POST /api/v1/reservations/{res_id}/no-show": _staff(
            "booking", "Mark a booking a no-show", (404, 409, 422), body="ActionOnlyIn"
        ),
        "GET /api/v1/waitlist": _staff("booking", "Walk-ins waiting, in order (phones masked)"),
        "POST /api/v1/waitlist": _staff(
            "booking",
            "A walk-in joins: quoted_wait_s from the tables' learned turn times, and the link "
            "of the guest's own page",
            (422,),
            body="WaitIn",
            ok=CREATED,
        ),
        "POST /api/v1/waitlist/{wait_id}/seat": _staff(
            "booking",
            "Seat a walk-in: the table and its check open",
            (404, 409, 422),
            body="SeatIn",
        ),
        "POST /api/v1/waitlist/{wait_id}/leave": _staff(
            "booking", "A walk-in left the queue", (404, 409, 422), body="ActionOnlyIn"
        ),
        "POST /api/v1/waitlist/{wait_id}/message": _staff(
            "booking",
            'A message on the walk-in\'s page ("your table is ready"); 409 for an action id '
            "used for another action",
            (404, 409, 422),
            body="GuestMessageIn",
        ),
        "GET /api/v1/waitlist/{wait_id}/qr.svg": _staff(
            "booking", "The QR code of the walk-in's page", (404,), binary="image/svg+xml"
        ),
        "GET /api/v1/queue/{token}": _op(
            "diner",
            "A walk-in's place in the queue, quoted wait and message (first name only)",
            (404,),
        ),
        # ------------------------------------------------------------ admin
        "GET /api/v1/tables": _staff("admin", "Tables and their QR URLs"),
        "POST /api/v1/tables/{table_id}/rotate": _staff(
            "admin", "Rotate a table's QR token (old codes stop working)", (404,)
        ),
        "GET /api/v1/admin/tokens": _staff("admin", "Staff tokens (never the tokens themselves)"),
        "POST /api/v1/admin/tokens": _staff(
            "admin", "Issue a staff token (shown once)", (400, 422), body="TokenIn", ok=CREATED
        ),
        "POST /api/v1/admin/tokens/{token_id}/revoke": _staff(
            "admin", "Revoke a staff token at once", (404, 409)
        ),
        "POST /api/v1/admin/devices/{device_id}/forget": _staff(
            "admin",
            "Forget a device gone for good (offline, not in the hub's config): its row and its"
            " retained status on the broker go, the screens drop it",
            (404, 409, 422, 503),
        ),
        "GET /api/v1/admin/menu": _staff("admin", "The whole menu document and its version"),
        "PUT /api/v1/admin/menu": _staff(
            "admin",
            "Replace the menu document (validated like the menu file)",
            (400, 409, 422),
            body="MenuDocument",
        ),
        "GET /api/v1/bridge": _staff(
            "admin",
            "The cloud bridge: backlog, oldest unsent event, last success and error, "
            "parked batches, alerts",
        ),
        # ------------------------------------------------------------ the admin page
        "GET /api/v1/stats": _staff(
            "admin",
            "The kitchen's numbers: orders per hour, ticket times and late tickets per station",
            (422,),
            params=(HOURS_Q,),
        ),
        "GET /api/v1/backups": _staff("admin", "Backups of the store, newest first"),
        "POST /api/v1/backups": _staff(
            "admin",
            "Back the store up now (online; restoring is done with the hub stopped)",
            (409, 503),
            ok=CREATED,
        ),
        "GET /api/v1/tables/qr-sheet.pdf": _staff(
            "admin", "Every table's QR code, A4 pages to print", binary="application/pdf"
        ),
        "GET /api/v1/tables/qr-sheet.png": _staff(
            "admin", "The QR sheet as one PNG", binary="image/png"
        ),
        "POST /api/v1/admin/pairing": _staff(
            "admin",
            "The pairing link and QR code of a live staff token",
            (400, 404, 422),
            body="PairingIn",
        ),
        # ------------------------------------------------------------ pairing a device
        "POST /api/v1/admin/pairing-pins": _staff(
            "admin",
            "Make a one-time 6-digit PIN that pairs a device with a role (10 minutes)",
            (400, 422),
            body="TokenIn",
            ok=CREATED,
        ),
        # ------------------------------------------------------------ the floor's corrections
        "POST /api/v1/orders/{order_id}/lines/{line}/void": _staff(
            "floor",
            "Void units of a line (once the kitchen made it: a comp, admin or manager PIN)",
            (400, 404, 409, 422, 429),
            body="VoidIn",
        ),
        "POST /api/v1/orders/{order_id}/void": _staff(
            "floor",
            "Void a whole order: every line still charged (made ones are comps)",
            (400, 404, 409, 422, 429),
            body="OrderVoidIn",
        ),
        "POST /api/v1/orders/{order_id}/lines/{line}/change": _staff(
            "floor",
            "Change a line's quantity, modifiers or note before the kitchen bumps it",
            (400, 404, 409, 422),
            body="ChangeIn",
        ),
        "POST /api/v1/staff/orders": _replayable(
            _staff(
                "floor",
                "Take an order for a table (idempotent on idempotency_key); says who entered it",
                (400, 404, 409, 413, 422, 503),
                body="StaffOrderIn",
                ok=CREATED,
            )
        ),
        "GET /api/v1/floor/tables": _staff(
            "floor", "Every table with its open check's total and what is due"
        ),
        "GET /api/v1/tables/{table_id}/check": _staff(
            "floor", "A table's open check: orders, totals, parts and payments", (404,)
        ),
        "POST /api/v1/tables/{table_id}/move": _staff(
            "floor", "Move the party to a free table", (400, 404, 409, 422), body="MoveIn"
        ),
        "POST /api/v1/tables/{table_id}/merge": _staff(
            "floor",
            "Merge another table's check into this one",
            (400, 404, 409, 422),
            body="MergeIn",
        ),
        "POST /api/v1/tables/{table_id}/split": _staff(
            "floor",
            "Split the check by items, by seat or evenly",
            (400, 404, 409, 422),
            body="SplitIn",
        ),
        "POST /api/v1/tables/{table_id}/payments": _staff(
            "floor",
            "Record a payment against the check or a part (recorded only)",
            (400, 404, 409, 422),
            body="PaymentIn",
            ok=CREATED,
        ),
        "POST /api/v1/tables/{table_id}/bills": _staff(
            "floor",
            "Print the bill of each part (or one part)",
            (400, 404, 409, 422),
            body="BillsIn",
            ok=CREATED,
        ),
        "GET /api/v1/admin/corrections": _staff(
            "admin",
            "Voids and comps of a business day by reason and by staff, and the record",
            (422,),
            params=(_param("day", "query", {"type": "string", "format": "date"}, required=False),),
        ),
        # ------------------------------------------------------------ pacing
        "POST /api/v1/tables/{table_id}/fire": _staff(
            "pacing",
            "Fire the table's held course (or the next one held), once per action id",
            (400, 404, 409, 422),
            body="FireIn",
        ),
        "GET /api/v1/pacing": _staff(
            "pacing", "Each station's projected wait, cooks, open and held tickets, pause"
        ),
        "GET /api/v1/pacing/tables": _staff(
            "pacing", "Each table's courses (held, fired, ready), next course, wait flagged"
        ),
        "GET /api/v1/admin/pacing/quotes": _staff(
            "admin",
            "Quoted waits against actual ready times: p50/p90 error overall and per hour",
            (422,),
            params=(
                _param(
                    "hours",
                    "query",
                    {"type": "integer", "minimum": 1, "maximum": 744, "default": 24},
                    required=False,
                ),
            ),
        ),
        "POST /api/v1/pair/pin": _op(
            "staff",
            "Pair this device with a pairing PIN; sets the staff session cookie",
            (400, 403, 422, 429),
            body="PinPairingIn",
            params=(CSRF_H,),
        ),
    }


def _files() -> dict[str, dict[str, Any]]:
    """What is answered as a file, not JSON: pictures of QR codes and of prints."""
    return {
        "GET /api/v1/tables/{table_id}/qr.svg": _staff(
            "admin", "One table's QR code, an SVG file", (404,), binary="image/svg+xml"
        ),
        "GET /api/v1/printers/{printer}/preview.png": _staff(
            "printing",
            "What a simulated printer printed last, as a picture (the demo's printers)",
            (404,),
            binary="image/png",
        ),
    }


DEMO_PIN = _param("pin", schema={"type": "integer", "minimum": 0, "maximum": 999})


def _demo() -> dict[str, dict[str, Any]]:
    """`tablehub demo`'s simulated button board: 404 (`field: "device"`) on a hub without one."""
    return {
        "GET /api/v1/demo/buttons": _staff(
            "demo", "Every simulated button and LED, and the board's device id", (404,)
        ),
        "POST /api/v1/demo/buttons/{pin}/press": _no_content(
            _staff(
                "demo",
                "Press and release one simulated button, as a finger on a wired one would",
                (404, 409),
                params=(DEMO_PIN,),
            )
        ),
    }


def _service() -> dict[str, dict[str, Any]]:
    """The hub about itself: this document and its health."""
    return {
        "GET /api/v1/openapi.json": _op("service", "This document"),
        "GET /healthz": _op(
            "service",
            "The hub's health: store, broker, MQTT relay, screens, uptime, cloud bridge",
        ),
    }


# every area of the API; a new area is a function appended here
AREAS = (_operations, _files, _demo, _service)


def _body_rules(components: dict[str, Any]) -> None:
    """The rules of request bodies that their types cannot state: one field or the other."""
    weight = components["WeightIn"]
    weight["oneOf"] = [
        {"required": ["scale"], "properties": {"scale": {"type": "string"}, "grams": NULL}},
        {"required": ["grams"], "properties": {"grams": {"type": "integer"}, "scale": NULL}},
    ]
    split = components["SplitIn"]
    split["oneOf"] = [
        {
            "properties": {"mode": {"const": "items"}, "parts": {"type": "array", "minItems": 1}},
            "required": ["parts"],
        },
        {"properties": {"mode": {"const": "seats"}}},
        {"properties": {"mode": {"const": "even"}, "n": {"type": "integer"}}, "required": ["n"]},
    ]


NULL = {"type": "null"}


@cache
def openapi_document() -> dict[str, Any]:
    _, components = schema_components()
    components["MenuDocument"] = MENU_DOCUMENT
    components["Error"] = ERROR_SCHEMA
    answers = answer_components()
    assert not components.keys() & answers.keys(), "an answer's name is a request body's"
    components |= answers
    _body_rules(components)
    paths: dict[str, dict[str, Any]] = {}
    operations = {key: op for area in AREAS for key, op in area().items()}
    for key, op in operations.items():
        method, path = key.split(" ")
        given = {p["name"] for p in op["parameters"] if p["in"] == "path"}
        implied = [p for p in _path_params(path) if p["name"] not in given]
        op["parameters"] = implied + op["parameters"]
        if "requestBody" in op:  # every body the schema allows fits (tests/unit/test_body_limits)
            limit = route_body_limit(method, path)
            op["requestBody"]["description"] = f"At most {limit} bytes (413 past that)."
        paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "tablehub",
            "version": __version__,
            "description": "The store hub's API. Money is integer cents.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
