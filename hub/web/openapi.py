"""The OpenAPI 3.1 document of /api/v1, built from the request types in `schemas`."""

from __future__ import annotations

from functools import cache
from typing import Any

from hub import __version__
from hub.web.schemas import schema_components

ERROR = {"$ref": "#/components/schemas/Error"}


def _op(
    summary: str,
    *,
    tag: str,
    staff: bool = False,
    body: str | None = None,
    params: list[dict[str, Any]] | None = None,
    ok: int = 200,
    errors: tuple[int, ...] = (400, 404, 422),
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "tags": [tag],
        "parameters": params or [],
        "responses": {
            str(ok): {
                "description": "OK",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        },
    }
    for code in errors + ((401, 403) if staff else ()):
        op["responses"][str(code)] = {
            "description": "error",
            "content": {"application/json": {"schema": ERROR}},
        }
    if staff:
        op["security"] = [{"bearer": []}]
    if body:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body}"}}},
        }
    return op


def _p(
    name: str, where: str = "path", typ: str = "string", required: bool = True
) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required, "schema": {"type": typ}}


TABLE_Q = _p("table", "query")


@cache
def openapi_document() -> dict[str, Any]:
    _, components = schema_components()
    components["MenuDocument"] = {
        "type": "object",
        "required": ["store", "stations", "categories", "items"],
        "description": "The menu file's format; see docs/menu.md.",
    }
    components["Error"] = {
        "type": "object",
        "required": ["error", "message"],
        "properties": {
            "error": {"type": "string"},
            "field": {"type": ["string", "null"]},
            "message": {"type": "string"},
        },
    }
    paths = {
        "/api/v1/menu": {
            "get": _op("The menu a table sees", tag="diner", params=[TABLE_Q], errors=(403,))
        },
        "/api/v1/orders": {
            "post": _op(
                "Place an order (idempotent on idempotency_key)",
                tag="diner",
                body="OrderIn",
                ok=201,
                errors=(400, 403, 409, 413, 422, 503),
            )
        },
        "/api/v1/orders/{order_id}": {
            "get": _op(
                "An order and its status",
                tag="diner",
                params=[_p("order_id", typ="integer"), _p("table", "query", required=False)],
                errors=(401, 403, 404),
            )
        },
        "/api/v1/check": {
            "get": _op("The table's open check", tag="diner", params=[TABLE_Q], errors=(403,))
        },
        "/api/v1/stations": {"get": _op("Stations", tag="kitchen", staff=True, errors=())},
        "/api/v1/stations/{station}/tickets": {
            "get": _op(
                "Open and recently bumped tickets of a station ('expo': all)",
                tag="kitchen",
                staff=True,
                params=[_p("station")],
                errors=(404,),
            )
        },
        "/api/v1/tickets/{ticket_id}/bump": {
            "post": _op(
                "Bump a ticket, or one item of it",
                tag="kitchen",
                staff=True,
                body="BumpIn",
                params=[_p("ticket_id", typ="integer")],
                errors=(400, 404, 409, 422),
            )
        },
        "/api/v1/tickets/{ticket_id}/recall": {
            "post": _op(
                "Recall a bumped ticket",
                tag="kitchen",
                staff=True,
                body="ActionIn",
                params=[_p("ticket_id", typ="integer")],
                errors=(400, 404, 409, 422),
            )
        },
        "/api/v1/stations/{station}/recall": {
            "post": _op(
                "Recall the station's last bumped ticket",
                tag="kitchen",
                staff=True,
                body="ActionIn",
                params=[_p("station")],
                errors=(400, 404, 409, 422),
            )
        },
        "/api/v1/orders/{order_id}/serve": {
            "post": _op(
                "Mark an order served",
                tag="kitchen",
                staff=True,
                body="ActionIn",
                params=[_p("order_id", typ="integer")],
                errors=(400, 404, 422),
            )
        },
        "/api/v1/items": {
            "get": _op("Every menu item with its station", tag="kitchen", staff=True, errors=())
        },
        "/api/v1/items/{item_id}/availability": {
            "post": _op(
                "Mark an item sold out (86) or available",
                tag="kitchen",
                staff=True,
                body="AvailabilityIn",
                params=[_p("item_id")],
                errors=(400, 404, 422),
            )
        },
        "/api/v1/tables": {
            "get": _op("Tables and their QR URLs", tag="admin", staff=True, errors=())
        },
        "/api/v1/printers": {
            "get": _op(
                "Printers, their health and the last jobs", tag="printing", staff=True, errors=()
            )
        },
        "/api/v1/printers/{printer}/test": {
            "post": _op(
                "Print a test page; answers with the real cause when it fails",
                tag="printing",
                staff=True,
                params=[_p("printer")],
                errors=(404, 502),
            )
        },
        "/api/v1/tickets/{ticket_id}/reprint": {
            "post": _op(
                "Reprint a kitchen chit (marked REPRINT)",
                tag="printing",
                staff=True,
                params=[_p("ticket_id", typ="integer")],
                ok=201,
                errors=(404, 409),
            )
        },
        "/api/v1/tables/{table_id}/bill": {
            "post": _op(
                "Print the bill of the table's open check",
                tag="printing",
                staff=True,
                params=[_p("table_id")],
                ok=201,
                errors=(404, 409),
            )
        },
        "/api/v1/calls": {
            "post": _op(
                "Call staff to the table (waiter, bill, water)",
                tag="diner",
                body="CallIn",
                ok=201,
                errors=(403, 422),
            ),
            "get": _op("Open table calls", tag="floor", staff=True, errors=()),
        },
        "/api/v1/calls/{call_id}/ack": {
            "post": _op(
                "Acknowledge a call (the button's LED goes off)",
                tag="floor",
                staff=True,
                params=[_p("call_id", typ="integer")],
                errors=(404, 409),
            )
        },
        "/api/v1/calls/{call_id}/close": {
            "post": _op(
                "Close a call",
                tag="floor",
                staff=True,
                params=[_p("call_id", typ="integer")],
                errors=(404, 409),
            )
        },
        "/api/v1/devices": {
            "get": _op(
                "Every device's presence and live scale weights", tag="floor", staff=True, errors=()
            )
        },
        "/api/v1/orders/{order_id}/lines/{line}/weight": {
            "post": _op(
                "Weigh a line sold by weight (a scale's stable reading, or grams)",
                tag="kitchen",
                staff=True,
                body="WeightIn",
                params=[_p("order_id", typ="integer"), _p("line", typ="integer")],
                errors=(404, 409, 422),
            )
        },
        "/api/v1/admin/tokens": {
            "get": _op(
                "Staff tokens (never the tokens themselves)", tag="admin", staff=True, errors=()
            ),
            "post": _op(
                "Issue a staff token (shown once)",
                tag="admin",
                staff=True,
                body="TokenIn",
                ok=201,
                errors=(400, 422),
            ),
        },
        "/api/v1/admin/tokens/{token_id}/revoke": {
            "post": _op(
                "Revoke a staff token at once",
                tag="admin",
                staff=True,
                params=[_p("token_id")],
                errors=(404, 409),
            )
        },
        "/api/v1/admin/menu": {
            "get": _op(
                "The whole menu document and its version", tag="admin", staff=True, errors=()
            ),
            "put": _op(
                "Replace the menu document (validated like the menu file)",
                tag="admin",
                staff=True,
                body="MenuDocument",
                errors=(400, 409, 422),
            ),
        },
        "/api/v1/tables/{table_id}/open": {
            "post": _op(
                "Open a table for ordering; the answer carries its PIN when the store uses PINs",
                tag="floor",
                staff=True,
                params=[_p("table_id")],
                errors=(404,),
            )
        },
        "/api/v1/tables/{table_id}/close": {
            "post": _op(
                "Close a table and its check",
                tag="floor",
                staff=True,
                params=[_p("table_id")],
                errors=(404,),
            )
        },
        "/api/v1/bridge": {
            "get": _op(
                "The cloud bridge: backlog, oldest unsent event, last success and error, "
                "parked batches, alerts",
                tag="admin",
                staff=True,
                errors=(),
            )
        },
        "/api/v1/tables/{table_id}/rotate": {
            "post": _op(
                "Rotate a table's QR token (old codes stop working)",
                tag="admin",
                staff=True,
                params=[_p("table_id")],
                errors=(404,),
            )
        },
        "/api/v1/admin/pairing-pins": {
            "post": _op(
                "Make a one-time 6-digit PIN that pairs a device with a role (10 minutes)",
                tag="admin",
                staff=True,
                body="TokenIn",
                ok=201,
                errors=(400, 422),
            )
        },
        "/api/v1/pair/pin": {
            "post": _op(
                "Pair this device with a pairing PIN; sets the staff session cookie",
                tag="staff",
                body="PinPairingIn",
                params=[
                    {
                        "name": "X-Requested-With",
                        "in": "header",
                        "required": True,
                        "schema": {"type": "string", "enum": ["tablehub"]},
                    }
                ],
                errors=(400, 403, 422, 429),
            )
        },
    }
    paths.update(_admin_page_paths())
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


def _binary(op: dict[str, Any], media: str) -> dict[str, Any]:
    op["responses"]["200"]["content"] = {media: {"schema": {"type": "string", "format": "binary"}}}
    return op


def _admin_page_paths() -> dict[str, Any]:
    """The admin page's numbers, backups, QR sheet and pairing links."""
    hours = _p("hours", "query", "integer", required=False)
    hours["schema"].update(minimum=1, maximum=168, default=12)
    return {
        "/api/v1/stats": {
            "get": _op(
                "The kitchen's numbers: orders per hour, ticket times and late tickets per station",
                tag="admin",
                staff=True,
                params=[hours],
                errors=(422,),
            )
        },
        "/api/v1/backups": {
            "get": _op("Backups of the store, newest first", tag="admin", staff=True, errors=()),
            "post": _op(
                "Back the store up now (online; restoring is done with the hub stopped)",
                tag="admin",
                staff=True,
                ok=201,
                errors=(409, 503),
            ),
        },
        "/api/v1/tables/qr-sheet.pdf": {
            "get": _binary(
                _op("Every table's QR code, A4 pages to print", tag="admin", staff=True, errors=()),
                "application/pdf",
            )
        },
        "/api/v1/tables/qr-sheet.png": {
            "get": _binary(
                _op("The QR sheet as one PNG", tag="admin", staff=True, errors=()), "image/png"
            )
        },
        "/api/v1/admin/pairing": {
            "post": _op(
                "The pairing link and QR code of a live staff token",
                tag="admin",
                staff=True,
                body="PairingIn",
                errors=(400, 404, 422),
            )
        },
    }
