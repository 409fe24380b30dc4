"""Fuzzing the HTTP API from its own OpenAPI document (schemathesis): no input, however odd,
gets a 5xx, and nothing a rejected request sent changes the store."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from hub.app import RunningHub
from hub.domain.orders import LineRequest

pytestmark = pytest.mark.slow


def _cli() -> str:
    exe = Path(sys.executable).parent / "schemathesis"
    if exe.exists():
        return str(exe)
    found = shutil.which("schemathesis")
    if found is None:
        pytest.fail("schemathesis is not installed: run `make setup`")
    return found


async def test_no_input_makes_the_api_fail(
    hub: RunningHub, admin_token: str, tmp_path: Path
) -> None:
    # something for the fuzzer's ids to find: order 1, ticket 1, call 1
    token = hub.services.catalog.token_for("T1")
    await hub.services.ordering.place(token, "fuzz-seed-0001", [LineRequest("sea-salt-edamame", 1)])
    await hub.services.calls.open("T1", "water", "test")
    rows_before = await hub.services.store.read_all(
        "SELECT (SELECT COUNT(*) FROM orders), (SELECT COUNT(*) FROM tickets)"
    )
    proc = await asyncio.create_subprocess_exec(
        _cli(),
        "run",
        f"{hub.url}/api/v1/openapi.json",
        "--checks",
        "not_a_server_error",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-time",
        "20",
        "--workers",
        "1",
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
        env={**os.environ, "SCHEMATHESIS_HOOKS": "", "NO_COLOR": "1"},
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 240)
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text[-6000:]
    (report,) = tmp_path.glob("junit*.xml")
    suite = ElementTree.parse(report).getroot()
    suite = suite if suite.tag == "testsuite" else suite[0]
    assert int(suite.get("tests", "0")) >= 20, text[-3000:]  # every operation was exercised
    assert int(suite.get("failures", "0")) == 0, text[-6000:]
    assert int(suite.get("errors", "0")) == 0, text[-6000:]
    # random bodies never got an order or a ticket in: every order needs a signed table token
    rows_after = await hub.services.store.read_all(
        "SELECT (SELECT COUNT(*) FROM orders), (SELECT COUNT(*) FROM tickets)"
    )
    assert tuple(rows_after[0]) == tuple(rows_before[0])
