"""The demo's devices page: press the simulated call and bump buttons, watch the LEDs.

Only `tablehub demo` has the page and a board to press (a store box has real buttons); the API
routes are there on every hub, like every path of the OpenAPI document, and answer 404 where
there is no board. The page is a staff page like the floor view; a press goes through the
real button agent on gpiozero's mock pins (see `devices.buttons.demo`), so what the hub sees
is exactly what a wired button sends.

    GET  /demo/devices                     the page
    GET  /api/v1/demo/buttons              every button and LED ({"buttons": [...]})
    POST /api/v1/demo/buttons/{pin}/press  press and release one button (204)
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hub.errors import Conflict, NotFound
from hub.services.container import Services
from hub.web import auth
from hub.web.keys import SERVICES

routes = web.RouteTableDef()


def setup(app: web.Application, services: Services, page: Any) -> None:
    """Add the API, and the page (`page`: the handler serving demo.html to staff) if the hub
    runs the demo's button board."""
    app.add_routes(routes)
    if services.demo_buttons is not None:
        app.router.add_get("/demo/devices", page)


def _board(request: web.Request) -> Any:
    board = request.app[SERVICES].demo_buttons
    if board is None:
        raise NotFound("no simulated buttons: only `tablehub demo` has them", field="device")
    return board


@routes.get("/api/v1/demo/buttons")
async def get_buttons(request: web.Request) -> web.Response:
    await auth.require(request, "floor")
    board = _board(request)
    return web.json_response({"device": board.config.device, "buttons": board.buttons()})


@routes.post("/api/v1/demo/buttons/{pin}/press")
async def press(request: web.Request) -> web.Response:
    await auth.require(request, "floor")
    board = _board(request)
    raw = request.match_info["pin"]
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 3) or not board.pressable(int(raw)):
        raise NotFound(f"no button on pin '{raw[:8]}'", field="pin")
    if board.pressing:  # one finger: a burst of taps must not queue up worker threads
        raise Conflict("a button is being pressed; try again in a moment", field="pin")
    await board.press(int(raw))
    return web.Response(status=204)
