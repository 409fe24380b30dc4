"""`ScaleAgent`: one serial scale on the MQTT bus.

A worker thread owns the port and does every blocking call (open, write, read); the event
loop only publishes. The thread opens the port (auto-probing the protocol when asked),
polls it (or reads its stream), turns frames into `Weight` through `StabilityFilter`, and
hands only *changes* to the loop through a keep-latest slot, so a slow broker never builds
a backlog. The loop publishes ``scales/{scale}/weight`` ``{"grams":1234,"stable":true}``
(retained, QoS 0) on each change and again every `heartbeat_s`.

A port error (unplug: EIO, "returned no data"), a missing device or a silent scale makes
the thread close the port, publish ``devices/scale-{id}/status`` ``offline`` with
``detail.error``, log "scale X unplugged" once, and retry opening with jittered backoff;
when it answers again it logs "scale X recovered" once and the status goes back online.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from devices.agent import DeviceLink, MqttSettings
from devices.scales.errors import PortLost, PortUnavailable, ProtocolNotDetected, ScaleError
from devices.scales.port import PortOpener, SerialPort, open_serial
from devices.scales.protocols import (
    BUILTIN,
    FrameSplitter,
    ProtocolFileError,
    Reading,
    ScaleProtocol,
    known_names,
    parse,
    probe_matches,
)
from devices.scales.stability import StabilityFilter, Weight
from hub.bus import contract
from plumbing.backoff import Backoff

log = logging.getLogger("tablehub.devices.scales")

Clock = Callable[[], float]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PortState:
    online: bool
    detail: Mapping[str, Any]


class LatestSlot(Generic[T]):
    """Thread -> event loop mailbox that keeps only the newest value: `put` from any
    thread overwrites, and at most one hand-over is ever scheduled on the loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, deliver: Callable[[T], None]) -> None:
        self._loop = loop
        self._deliver = deliver
        self._lock = threading.Lock()
        self._value: T | None = None
        self._scheduled = False
        self.overwritten = 0

    def put(self, value: T) -> None:
        with self._lock:
            if self._scheduled:
                self.overwritten += 1
            self._value = value
            schedule, self._scheduled = not self._scheduled, True
        if schedule:
            with contextlib.suppress(RuntimeError):  # the loop is closed: the agent is gone
                self._loop.call_soon_threadsafe(self._hand_over)

    def _hand_over(self) -> None:
        with self._lock:
            value, self._value, self._scheduled = self._value, None, False
        if value is not None:
            self._deliver(value)


class ScaleAgent:
    def __init__(
        self,
        scale_id: str,
        store_id: str,
        port_url: str,
        protocol: ScaleProtocol | str = "auto",
        *,
        mqtt: MqttSettings,
        clock: Clock = time.monotonic,
        stable_hold_ms: int = 1500,
        stable_band_g: int = 2,
        poll_interval: float | None = None,
        heartbeat_s: float = 5.0,
        silence_s: float = 5.0,
        protocols: Sequence[ScaleProtocol] = BUILTIN,
        line_overrides: Mapping[str, Any] | None = None,
        open_port: PortOpener | None = None,
        backoff: tuple[float, float] = (0.5, 10.0),
        rng: random.Random | None = None,
    ) -> None:
        self.scale_id = scale_id
        self.device = f"scale-{scale_id}"
        self.weight_topic = contract.scale_weight(store_id, scale_id)
        self.store_id = store_id
        self.url = port_url
        self.protocols = list(protocols)
        self.protocol = self._resolve(protocol)
        self.mqtt = mqtt
        self._clock = clock
        self._filter = StabilityFilter(stable_hold_ms / 1000, stable_band_g)
        self._poll_interval = poll_interval
        self.heartbeat_s = heartbeat_s
        self.silence_s = silence_s
        self._open: PortOpener = open_port or functools.partial(
            open_serial, overrides=line_overrides
        )
        self._backoff = backoff
        self._rng = rng
        self._halt = threading.Event()
        self._stopping = asyncio.Event()
        self._link: DeviceLink | None = None
        self._online: bool | None = None
        self._reported: PortState | None = None
        self.detected: ScaleProtocol | None = None
        self.weight: Weight | None = None  # the last one handed to MQTT

    def __repr__(self) -> str:
        state = {None: "starting", True: "online", False: "offline"}[self._online]
        name = self.detected.name if self.detected else "?"
        return f"<ScaleAgent {self.scale_id} {self.url} {name} {state} {self.weight}>"

    @property
    def link(self) -> DeviceLink | None:
        """The MQTT link, once `run()` has started."""
        return self._link

    def _resolve(self, protocol: ScaleProtocol | str) -> ScaleProtocol | None:
        if isinstance(protocol, ScaleProtocol):
            return protocol
        if protocol == "auto":
            return None
        for p in self.protocols:
            if p.name == protocol:
                return p
        raise ProtocolFileError(
            f"scale {self.scale_id}: unknown protocol '{protocol}' "
            f"(known: auto, {known_names(self.protocols)})"
        )

    # ---------------------------------------------------------------- event loop side

    async def run(self) -> None:
        """Run until `stop()`: the port thread, the MQTT link and the heartbeat."""
        loop = asyncio.get_running_loop()
        link = self._link = DeviceLink(
            self.mqtt,
            store_id=self.store_id,
            device=self.device,
            kind="scale",
            default_client_id=self.device,
            persistent=False,
            offline_reasons=True,
            rng=self._rng,
        )
        link.set_status("offline", {"reason": "starting", "port": self.url})
        if self._stopping.is_set():  # stopped before it ran
            link.stop()
        weights = LatestSlot[Weight](loop, self._publish_weight)
        states = LatestSlot[PortState](loop, self._publish_state)
        thread = threading.Thread(
            target=self._work, args=(weights.put, states.put), name=f"scale-{self.scale_id}"
        )
        thread.daemon = True
        thread.start()
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(link.run(), name=f"{self.device}-mqtt")
                tg.create_task(self._heartbeat(), name=f"{self.device}-heartbeat")
        finally:
            self._halt.set()
            await asyncio.to_thread(thread.join, 5)

    def stop(self) -> None:
        """Stop the thread and publish a clean offline status (call on the loop)."""
        self._halt.set()
        self._stopping.set()
        if self._link is not None:
            self._link.stop()

    def _publish_weight(self, weight: Weight) -> None:
        self.weight = weight
        if self._link is not None:
            msg = contract.WeightMessage(grams=weight.grams, stable=weight.stable)
            self._link.publish(
                self.weight_topic, contract.encode(msg), qos=0, retain=True, latest=True
            )

    def _publish_state(self, state: PortState) -> None:
        if self._link is not None:
            self._link.set_status("online" if state.online else "offline", state.detail)

    async def _heartbeat(self) -> None:
        while not self._stopping.is_set():
            try:
                await asyncio.wait_for(self._stopping.wait(), self.heartbeat_s)
            except TimeoutError:
                if self.weight is not None and self._online:
                    self._publish_weight(self.weight)

    # ---------------------------------------------------------------- the port thread

    def _work(self, emit: Callable[[Weight], None], report: Callable[[PortState], None]) -> None:
        backoff = Backoff(*self._backoff, self._rng)
        while not self._halt.is_set():
            port: SerialPort | None = None
            try:
                port, proto = self._connect()
                self._went_online(proto, report)
                backoff.reset()
                self._pump(port, proto, emit)
            except ScaleError as exc:
                self._went_offline(exc, report)
            except Exception as exc:  # a bug must not kill the thread silently
                log.exception("scale %s: unexpected error", self.scale_id)
                self._went_offline(exc, report)
            finally:
                if port is not None:
                    port.close()
            if self._halt.is_set():
                break
            self._halt.wait(backoff.next())

    def _went_online(self, proto: ScaleProtocol, report: Callable[[PortState], None]) -> None:
        if self._online is False:
            log.warning("scale %s recovered (%s on %s)", self.scale_id, proto.name, self.url)
        elif self._online is None:
            log.info("scale %s online (%s on %s)", self.scale_id, proto.name, self.url)
        self._online = True
        self._report(PortState(True, {"protocol": proto.name, "port": self.url}), report)

    def _went_offline(self, exc: BaseException, report: Callable[[PortState], None]) -> None:
        if self._online is not False:
            log.warning("scale %s unplugged: %s", self.scale_id, exc)
        self._online = False
        code = getattr(exc, "code", "unknown")
        detail = {"error": str(exc)[:200], "code": code, "port": self.url}
        self._report(PortState(False, detail), report)

    def _report(self, state: PortState, report: Callable[[PortState], None]) -> None:
        """Only changes: a retry that fails the same way publishes nothing new."""
        if state != self._reported:
            self._reported = state
            report(state)

    def _connect(self) -> tuple[SerialPort, ScaleProtocol]:
        if self.protocol is not None:
            return self._open(self.url, self.protocol), self.protocol
        port, proto = self._detect()
        self.detected = proto
        return port, proto

    def _detect(self) -> tuple[SerialPort, ScaleProtocol]:
        """Try each protocol's probe on the port (the last one found first)."""
        order = sorted(self.protocols, key=lambda p: p is not self.detected)
        unavailable: PortUnavailable | None = None
        opened = False
        for proto in order:
            if self._halt.is_set():
                break
            try:
                port = self._open(self.url, proto)
            except PortUnavailable as exc:  # e.g. line settings this port refuses
                unavailable = exc
                continue
            opened = True
            try:
                if self._answers(port, proto):
                    log.info("scale %s: detected %s on %s", self.scale_id, proto.name, self.url)
                    return port, proto
            except BaseException:
                port.close()
                raise
            port.close()
        if not opened and unavailable is not None:
            raise unavailable
        raise ProtocolNotDetected(
            f"no known protocol answered on {self.url} (tried {known_names(order)})"
        )

    def _answers(self, port: SerialPort, proto: ScaleProtocol) -> bool:
        probe = proto.probe_or_default
        splitter = FrameSplitter(proto.terminator, proto.max_frame)
        if probe.request:
            port.write(probe.request)
        deadline = time.monotonic() + probe.timeout
        while (left := deadline - time.monotonic()) > 0 and not self._halt.is_set():
            frames = splitter.feed(port.read(256, min(left, 0.2)))
            if any(probe_matches(proto, f) for f in frames):
                return True
        return False

    def _pump(self, port: SerialPort, proto: ScaleProtocol, emit: Callable[[Weight], None]) -> None:
        """Poll (or listen) until the port fails, the scale falls silent, or stop."""
        splitter = FrameSplitter(proto.terminator, proto.max_frame)
        interval = self._poll_interval or proto.poll_interval
        reply_timeout = max(0.5, interval)
        heard = self._clock()
        last = self._filter.last
        while not self._halt.is_set():
            started = time.monotonic()
            if proto.request is not None:
                port.write(proto.request)
            readings = self._read_readings(port, proto, splitter, reply_timeout)
            now = self._clock()
            for reading in readings:
                weight = self._filter.update(reading, now)
                if weight is not None and weight != last:
                    emit(weight)
                    last = weight
            if readings:
                heard = now
            elif now - heard > self.silence_s:
                raise PortLost(f"no reply from the scale for {self.silence_s:g} s")
            if proto.request is not None:
                self._halt.wait(max(0.0, interval - (time.monotonic() - started)))

    def _read_readings(
        self, port: SerialPort, proto: ScaleProtocol, splitter: FrameSplitter, timeout: float
    ) -> list[Reading]:
        """Frames until at least one parses (a poll's reply) or `timeout`."""
        deadline = time.monotonic() + timeout
        readings: list[Reading] = []
        while not readings and (left := deadline - time.monotonic()) > 0:
            if self._halt.is_set():
                break
            for frame in splitter.feed(port.read(256, min(left, 0.2))):
                reading = parse(proto, frame)
                if reading is not None:
                    readings.append(reading)
        return readings
