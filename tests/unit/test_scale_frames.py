"""Scale frames, sans IO: real frames of each built-in protocol -> Reading (or None), units,
the stream splitter, arbitrary bytes (never an exception), and a store's own protocol
loaded from a file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.scales.protocols import (
    BUILTIN,
    CAS_22,
    METTLER_8217,
    MT_SICS,
    NCI_SCP01,
    FrameSplitter,
    ProtocolFileError,
    Reading,
    ScaleProtocol,
    load_protocols,
    parse,
    probe_matches,
    to_grams,
)

PROPS = settings(max_examples=300, deadline=None)


def r(grams: int | None, stable: bool, *flags: str) -> Reading:
    return Reading(grams, stable, frozenset(flags))


# protocol, frame as it comes off the wire, what it means
FRAMES: list[tuple[ScaleProtocol, bytes, Reading | None]] = [
    # Mettler-Toledo 8217: STX weight [N] CR, or STX ? status CR
    (METTLER_8217, b"\x02001.234\r", r(1234, True)),
    (METTLER_8217, b"\x02000.266N\r", r(266, True, "net")),
    (METTLER_8217, b"\x02000.000\r", r(0, True)),
    (METTLER_8217, b"\x02?A\r", r(None, False, "motion")),  # in motion
    (METTLER_8217, b"\x02?B\r", r(None, False, "over")),  # over capacity
    (METTLER_8217, b"\x02?D\r", r(None, False, "under")),  # under zero
    (METTLER_8217, b"\x02?p\r", r(None, False, "zero", "net")),  # at zero, net (after T)
    (METTLER_8217, b"\x02?@\r", r(None, False)),  # status, no flags, but no weight either
    (METTLER_8217, b"\x0201.2.3\r", None),  # not a number
    (METTLER_8217, b"\x02001.234", None),  # no terminator
    (METTLER_8217, b"001.234\r", None),  # no STX
    (METTLER_8217, b"\x02E\r", None),  # echo-test reply
    # MT-SICS: S <S|D> value unit CRLF, S I / S + / S -, ES
    (MT_SICS, b"S S      0.250 kg\r\n", r(250, True, "stable")),
    (MT_SICS, b"S D      0.250 kg\r\n", r(250, False, "motion")),
    (MT_SICS, b"S S     -0.120 kg\r\n", r(-120, True, "stable")),  # negative (tare)
    (MT_SICS, b"S S      125.5 g\r\n", r(126, True, "stable")),  # half gram rounds up
    (MT_SICS, b"S S      1.000 lb\r\n", r(454, True, "stable")),
    (MT_SICS, b"S S      8.00 oz\r\n", r(227, True, "stable")),
    (MT_SICS, b"S I\r\n", r(None, False, "motion")),  # busy / not stable in time
    (MT_SICS, b"S +\r\n", r(None, False, "over")),
    (MT_SICS, b"S -\r\n", r(None, False, "under")),
    (MT_SICS, b"ES\r\n", None),  # syntax error
    (MT_SICS, b"S S      0.250 ct\r\n", None),  # carats: not a unit we convert
    (MT_SICS, b"Z A\r\n", None),
    # NCI / SCP-01: LF weight unit CR LF S s1 s2 CR ETX, or status only
    (NCI_SCP01, b"\n  1.234KG\r\nS00\r\x03", r(1234, True)),
    (NCI_SCP01, b"\n  2.500LB\r\nS00\r\x03", r(1134, True)),
    (NCI_SCP01, b"\n -0.500KG\r\nS00\r\x03", r(-500, True)),
    (NCI_SCP01, b"\n  0.000KG\r\nS20\r\x03", r(0, True, "zero")),
    (NCI_SCP01, b"\nS10\r\x03", r(None, False, "motion")),
    (NCI_SCP01, b"\nS02\r\x03", r(None, False, "over")),
    (NCI_SCP01, b"\nS01\r\x03", r(None, False, "under")),
    (NCI_SCP01, b"\n  1.234KG\r\nS40\r\x03", r(1234, False, "error")),  # RAM error bit
    (NCI_SCP01, b"\n?\r\x03", None),  # unknown command
    (NCI_SCP01, b"  1.234KG\r\nS00\r\x03", None),  # lost its LF: a partial frame
    # CAS 22-byte stream: ST|US|OL , GS|NT , id lamp , 8-char weight " kg" CR LF
    (CAS_22, b"ST,GS,1\xc0,000013.5 kg\r\n", r(13500, True, "stable")),
    (CAS_22, b"US,GS,1\x80,000013.5 kg\r\n", r(13500, False, "motion")),
    (CAS_22, b"ST,NT,1\xc2,-00001.2 kg\r\n", r(-1200, True, "stable", "net")),
    (CAS_22, b"ST,GS,1\xc1,0000.000 kg\r\n", r(0, True, "stable", "zero")),
    (CAS_22, b"OL,GS,1\x80,   OL    kg\r\n", r(None, False, "over")),
    (CAS_22, b"0013.5 kg\r\n", None),  # joined mid-stream
    (CAS_22, b"XX,GS,1\xc0,000013.5 kg\r\n", None),
]


@pytest.mark.parametrize(
    ("protocol", "frame", "expected"),
    FRAMES,
    ids=[f"{p.name}-{i}" for i, (p, _, _) in enumerate(FRAMES)],
)
def test_real_frames(protocol: ScaleProtocol, frame: bytes, expected: Reading | None) -> None:
    assert parse(protocol, frame) == expected


def test_cas_frame_is_22_bytes() -> None:
    assert len(b"ST,GS,1\xc0,000013.5 kg\r\n") == 22


def test_a_frame_of_one_protocol_means_nothing_to_the_others() -> None:
    samples = {p.name: [f for q, f, e in FRAMES if q is p and e is not None] for p in BUILTIN}
    for p in BUILTIN:
        for other, frames in samples.items():
            if other != p.name:
                assert [parse(p, f) for f in frames] == [None] * len(frames), (p.name, other)


@pytest.mark.parametrize(
    ("text", "unit", "decimals", "grams"),
    [
        (b"1", "kg", None, 1000),
        (b"1.5", "KG", None, 1500),
        (b"0.0005", "kg", None, 1),  # half a gram: away from zero
        (b"-0.0005", "kg", None, -1),
        (b"1.4", "g", None, 1),
        (b"1", "lb", None, 454),  # 453.59237 g
        (b"1", "lbs", None, 454),
        (b"16", "oz", None, 454),
        (b"1", "oz", None, 28),
        (b"0.25", "t", None, 250_000),
        (b" 1 2.5", "g", None, 13),  # spaces inside a fixed-width field are padding
        (b"01234", "kg", 3, 1234),  # implied decimals
        (b"1.234", "kg", 3, 1234),  # an explicit point wins
        (b"10000", "kg", None, 10_000_000),  # the contract's maximum
        (b"10001", "kg", None, None),  # over it
        (b"-1001", "kg", None, None),  # under its minimum
        (b"1", "stone", None, None),
        (b"1e3", "g", None, None),
        (b"NaN", "g", None, None),
        (b"", "g", None, None),
        (b".", "g", None, None),
    ],
)
def test_units(text: bytes, unit: str, decimals: int | None, grams: int | None) -> None:
    assert to_grams(text, unit, decimals) == grams


# ---------------------------------------------------------------- the splitter


def test_frames_split_across_reads() -> None:
    s = FrameSplitter(b"\r")
    assert s.feed(b"\x0200") == []
    assert s.feed(b"1.234\r\x02?") == [b"\x02001.234\r"]
    assert s.feed(b"A\r\x02000.5") == [b"\x02?A\r"]
    assert s.pending == b"\x02000.5"


def test_a_two_byte_terminator_split_between_reads() -> None:
    s = FrameSplitter(b"\r\n")
    assert s.feed(b"S S      0.250 kg\r") == []
    (frame,) = s.feed(b"\nS D")
    assert parse(MT_SICS, frame) == r(250, True, "stable")


def test_nci_frame_with_inner_crlf_waits_for_etx() -> None:
    s = FrameSplitter(b"\x03")
    assert s.feed(b"\n  1.234KG\r\n") == []
    (frame,) = s.feed(b"S00\r\x03")
    assert parse(NCI_SCP01, frame) == r(1234, True)


def test_line_noise_without_terminator_is_dropped_and_the_stream_recovers() -> None:
    s = FrameSplitter(b"\r\n", max_frame=64)
    assert s.feed(b"\x00\xff" * 500) == []
    assert len(s.pending) <= 64
    frames = s.feed(b"\r\nST,GS,1\xc0,000013.5 kg\r\n")
    assert parse(CAS_22, frames[-1]) == r(13500, True, "stable")


@given(st.lists(st.binary(min_size=0, max_size=40), max_size=20))
@PROPS
def test_splitter_loses_nothing_below_its_limit(chunks: list[bytes]) -> None:
    s = FrameSplitter(b"\r\n", max_frame=10_000)
    frames = [f for c in chunks for f in s.feed(c)]
    assert b"".join(frames) + s.pending == b"".join(chunks)
    assert all(f.endswith(b"\r\n") and f.count(b"\r\n") == 1 for f in frames)


@given(st.data())
@PROPS
def test_any_split_of_a_stream_gives_the_same_readings(data: st.DataObject) -> None:
    p = data.draw(st.sampled_from(BUILTIN))
    frames = [f for q, f, _ in FRAMES if q is p]
    stream = b"".join(data.draw(st.lists(st.sampled_from(frames), min_size=1, max_size=8)))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    whole = FrameSplitter(p.terminator).feed(stream)
    s = FrameSplitter(p.terminator)
    pieces = [f for c in chunks for f in s.feed(c)]
    assert [parse(p, f) for f in pieces] == [parse(p, f) for f in whole]


# ---------------------------------------------------------------- never raises


@given(st.sampled_from(BUILTIN), st.binary(max_size=200))
@PROPS
def test_arbitrary_bytes_never_raise(protocol: ScaleProtocol, data: bytes) -> None:
    reading = parse(protocol, data)
    assert reading is None or isinstance(reading, Reading)
    assert isinstance(probe_matches(protocol, data), bool)
    for frame in FrameSplitter(protocol.terminator).feed(data):
        parse(protocol, frame)


@given(st.sampled_from(BUILTIN), st.text(alphabet="0123456789.-+ eE", max_size=12))
@PROPS
def test_number_like_fields_never_raise(protocol: ScaleProtocol, field: str) -> None:
    frames = {
        "mettler-8217": b"\x02" + field.encode() + b"\r",
        "mt-sics": b"S S " + field.encode() + b" kg\r\n",
        "nci-scp01": b"\n" + field.encode() + b"KG\r\nS00\r\x03",
        "cas-22": b"ST,GS,1\xc0," + field.encode()[:8].rjust(8) + b" kg\r\n",
    }
    reading = parse(protocol, frames[protocol.name])
    assert reading is None or reading.grams is None or -1_000_000 <= reading.grams <= 10_000_000


# ---------------------------------------------------------------- a store's own protocol

STORE_TOML = r"""
# An imaginary "Acme PS-60" deli scale: 4800 7O1, request "P" CR, reply
# STX sign 5 digits (implied 2 decimals, pounds) status CR; status bit 0 = motion,
# bit 1 = over; and the shop's MT-SICS bench balance that runs at 2400 baud.
[[protocol]]
name = "acme-ps60"
baudrate = 4800
bytesize = 7
parity = "O"
request = "P\r"
frame = '\x02(?P<weight>[ -]\d{5})(?P<status>[\x40-\x7f])\r\Z'
terminator = "\r"
unit = "lb"
decimals = 2
poll_interval = 0.5
[protocol.status_bits]
motion = [0, 0]
over = [0, 1]
[protocol.stable]
flag = "motion"
when = "absent"
[protocol.probe]
request = "P\r"
reply = '\x02[ -]\d{5}'
timeout = 0.4

[[protocol]]
name = "bench-sics-2400"
base = "mt-sics"
baudrate = 2400
"""


def test_store_protocol_from_a_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "scales.toml"
    path.write_text(STORE_TOML)

    acme, bench = load_protocols(path)

    assert (acme.name, acme.baudrate, acme.bytesize, acme.parity) == ("acme-ps60", 4800, 7, "O")
    assert acme.request == b"P\r"
    assert parse(acme, b"\x02 00250@\r") == r(1134, True)  # 2.50 lb
    assert parse(acme, b"\x02-00010@\r") == r(-45, True)
    assert parse(acme, b"\x02 00250A\r") == r(1134, False, "motion")
    assert parse(acme, b"\x02 00250B\r") == r(1134, False, "over")
    assert parse(acme, b"\x02 0025@\r") is None
    assert probe_matches(acme, b"\x02 00250@\r")
    assert (bench.baudrate, bench.frame, bench.request) == (2400, MT_SICS.frame, b"SI\r\n")
    assert parse(bench, b"S S      0.250 kg\r\n") == r(250, True, "stable")


def test_store_protocol_from_json(tmp_path: Path) -> None:
    path = tmp_path / "scales.json"
    entry = {
        "name": "tiny",
        "frame": r"^(?P<weight>\d+) g\r\n\Z",
        "terminator": "\r\n",
        "unit": "g",
        "stable": {"flag": "motion", "when": "absent"},
    }
    path.write_text(json.dumps({"protocol": [entry]}))
    (tiny,) = load_protocols(path)
    assert tiny.streaming
    assert parse(tiny, b"125 g\r\n") == r(125, True)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"name": "x", "frame": "(", "terminator": "\r"}, "frame: not a valid regex"),
        ({"name": "x", "frame": "abc", "terminator": "\r"}, "(?P<weight>"),
        ({"name": "x", "frame": "(?P<weight>1)"}, "terminator"),
        ({"name": "x", "frame": "(?P<weight>1)", "terminator": "\r", "unit": "st"}, "unit"),
        ({"name": "x", "frame": "(?P<weight>1)", "terminator": "\r", "parity": "Q"}, "parity"),
        ({"name": "x", "frame": "(?P<weight>1)", "terminator": "\r", "baudrate": "9600"}, "baud"),
        (
            {
                "name": "x",
                "frame": "(?P<weight>1)",
                "terminator": "\r",
                "status_bits": {"wet": [0, 1]},
            },
            "unknown flag 'wet'",
        ),
        (
            {"name": "x", "frame": "(?P<weight>1)", "terminator": "\r", "tokens": {"hd": {}}},
            "tokens.hd",
        ),
        ({"name": "x", "frame": "(?P<weight>1)", "terminator": "€"}, "terminator"),
        ({"name": "x", "base": "nope"}, "base"),
        ({"name": "x", "frame": "(?P<weight>1)", "terminator": "\r", "colour": 1}, "colour"),
    ],
)
def test_bad_store_protocols_name_the_field(
    tmp_path: Path, entry: dict[str, object], message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([entry]))
    with pytest.raises(ProtocolFileError, match="protocol #1") as info:
        load_protocols(path)
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


def test_a_broken_file_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "scales.toml"
    path.write_text("[[protocol]\nname = ")
    with pytest.raises(ProtocolFileError, match=r"scales\.toml"):
        load_protocols(path)
