"""Fuzzing the HTTP API from its own OpenAPI document (schemathesis, every default check): no
input, however odd, gets a 5xx; every answer has a documented status, media type, headers and
body; what the document calls invalid is refused and what it allows is taken (but for the few
operations tests/integration/schemathesis.toml names, with why); and nothing a rejected request
sent changes the store. The hub runs the demo's button board and a simulated printer's preview,
so that every operation in the document is served.

The run draws from a fixed seed, so that runs mostly try the same cases and a failure
replays (the 45 s budget still ends each phase where the machine's speed says): `FUZZ_SEED=<n>`
draws from another, `FUZZ_SEED=random` from a new one each run, to look for what the fixed one
does not reach (a failure prints the test case to `st replay`)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from devices.agent import MqttSettings
from devices.buttons.demo import DemoButtons, demo_board
from hub.app import RunningHub, running_hub
from hub.config import HubConfig
from hub.domain.orders import LineRequest
from hub.ops.mosquitto import Mosquitto
from hub.services import staff
from hub.web.openapi import openapi_document

pytestmark = pytest.mark.slow
SEED = os.environ.get("FUZZ_SEED", "20261206")

CONFIG = Path(__file__).parent / "schemathesis.toml"
PNG = bytes.fromhex("89504e470d0a1a0a")  # what the simulated printer "printed"


@pytest.fixture
async def full_hub(
    hub_config: HubConfig, menu_doc: dict[str, Any], broker: Mosquitto
) -> AsyncIterator[RunningHub]:
    """A hub serving every route there is: the demo's buttons and a printer preview too."""
    buttons = DemoButtons(
        "demo",
        demo_board(["T1", "T2"], ["grill", "wok"]),
        MqttSettings(port=broker.port, client_id=f"{hub_config.broker.client_id}-b"),
    )
    async with running_hub(
        hub_config,
        seed_menu=menu_doc,
        demo_buttons=buttons,
        printer_previews={"kitchen-1": lambda: PNG},
    ) as running:
        yield running


def _failures(text: str) -> str:
    """What a failed run printed that names its failures: each failure's heading, the checks
    it failed and its `st replay` id, with long request bodies cut (a drawn body can be tens
    of KB, and the tail alone would show only the body)."""
    start = text.find("FAILURES")
    part = text[start:] if start >= 0 else text
    part = re.sub(r"(?s)(curl -X \S+).*?(http://\S+)", r"\1 <request cut> \2", part)
    return part[:8000]


def _cli() -> str:
    exe = Path(sys.executable).parent / "schemathesis"
    if exe.exists():
        return str(exe)
    found = shutil.which("schemathesis")
    if found is None:
        pytest.fail("schemathesis is not installed: run `make setup`")
    return found


async def test_the_api_answers_as_its_document_says(full_hub: RunningHub, tmp_path: Path) -> None:
    hub = full_hub
    admin_token = await staff.issue(hub.services.store, "admin", "fuzz")
    # something for the fuzzer's ids to find: order 1, ticket 1, call 1
    token = hub.services.catalog.token_for("T1")
    await hub.services.ordering.place(token, "fuzz-seed-0001", [LineRequest("sea-salt-edamame", 1)])
    await hub.services.calls.open("T1", "water", "test")
    rows_before = await hub.services.store.read_all(
        "SELECT (SELECT COUNT(*) FROM orders), (SELECT COUNT(*) FROM tickets)"
    )
    proc = await asyncio.create_subprocess_exec(
        _cli(),
        "--config-file",
        str(CONFIG),
        "run",
        f"{hub.url}/api/v1/openapi.json",
        "--max-examples",
        "30",
        "--max-time",
        "45",
        *(() if SEED == "random" else ("--seed", SEED)),
        "--workers",
        "1",  # hypothesis describes its strategies by parsing source: not thread-safe
        "--request-timeout",
        "10",
        "-H",
        f"Authorization: Bearer {admin_token}",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "SCHEMATHESIS_HOOKS": "", "NO_COLOR": "1", "FUZZ_TABLE_TOKEN": token},
    )
    # bounded: 30 cases an operation and 45 s in all (a failure prints the seed to replay it)
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    text = out.decode(errors="replace")
    (tmp_path / "schemathesis.out").write_text(text)  # whole, for a failure's long bodies
    assert proc.returncode == 0, _failures(text)
    (report,) = tmp_path.glob("junit*.xml")
    suite = ElementTree.parse(report).getroot()
    suite = suite if suite.tag == "testsuite" else suite[0]
    # every operation was exercised, by every check (none was left out on the command line)
    operations = sum(len(ops) for ops in openapi_document()["paths"].values())
    assert int(suite.get("tests", "0")) >= operations, text[-3000:]
    assert int(suite.get("failures", "0")) == 0, _failures(text)
    assert int(suite.get("errors", "0")) == 0, _failures(text)
    # random bodies never got an order or a ticket in: every order needs a signed table token
    rows_after = await hub.services.store.read_all(
        "SELECT (SELECT COUNT(*) FROM orders), (SELECT COUNT(*) FROM tickets)"
    )
    assert tuple(rows_after[0]) == tuple(rows_before[0])
