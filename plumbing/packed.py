"""JSON bodies kept smaller on the card: deflate with a preset dictionary of the hub's own
field names, behind a one-byte header no JSON text has.

The store writes every order, ticket, print job and event body; most of their bytes are the
same field names again and again (`"modifiers":[],"note":"","seat":null,"void_qty":0, ...`).
A dictionary of them turns a ~650-byte body into ~150-250 bytes; the SD card writes (and
checkpoints) a quarter as much. A short body the dictionary knows packs best of all (a print
job's event, 130 bytes of text, into under 30). The shortest stay JSON text (a header and
deflate's framing would outweigh what they save), and so does anything a body does not come
out smaller as, or that was stored before: `unpack` reads both.

Stored form: `b"\\x00" + version byte + raw deflate` (a BLOB); JSON text starts with `{`, `[`,
a quote, a digit, a letter or a space, never NUL. A version's dictionary is never changed once
released (stored rows name it): a better one is a new version, and `unpack` keeps them all.
"""

from __future__ import annotations

import zlib

HEADER = b"\x00"
MIN_BYTES = 48  # shorter: stored as it is
_WBITS = -12  # raw deflate, 4 KB window (the dictionary and a body fit in it)

# Version 1: the skeletons of the bodies the hub writes most (least frequent first: deflate
# finds the nearest match, so the most common strings sit at the end).
_DICT_1 = (
    b'{"device":{"id":"printer-","state":"online","kind":"printer","detail":{"online":true,'
    b'"paper":"ok","cover_open":false,"drawer_open":false,"queue":0,"error":null},'
    b'"changed_at":"","seen_at":""}}'
    b'{"call":{"id":,"table":"T","kind":"waiter","state":"open","source":"button:",'
    b'"escalated":false,"opened_at":"","opened_ms":,"acked_at":null,"closed_at":null},'
    b'"table_open":true}'
    b'{"job":{"id":"chit--kitchen-","state":"queued","printer":"kitchen-","kind":"kitchen",'
    b'"copy":"ORIGINAL","ticket_id":}}'
    b'{"kind":"kitchen","table":"Table ","number":,"items":[{"qty":1,"name":"","modifiers":[],'
    b'"note":"","allergens":[],"void_qty":0,"reason":null,"changes":[]}],"copy":"ORIGINAL",'
    b'"banner":null,"correction":null,"store":"","station":" Kitchen","round":1,"time":"2026-'
    b'","lang":"en","encoding":"codepage","width":42}'
    b'{"order":{"table":{"id":"T","name":"Table "},"lines":[{"item":"","name":{"en":"",'
    b'"zh-Hans":"","zh-Hant":""},"qty":1,"unit_cents":,"line_cents":,"modifiers":[],"note":"",'
    b'"seat":null,"void_qty":0,"voids":[],"changes":[],"course":null}],"order_id":,"number":,'
    b'"status":"received","total_cents":,"round":1,"created_at":"2026-","entered_by":null,'
    b'"check_id":}}'
    b'{"ticket":{"table":{"id":"T","name":"Table "},"number":,"items":[{"idx":0,"item":"",'
    b'"name":{"en":"","zh-Hans":"","zh-Hant":""},"qty":1,"modifiers":[],"note":"",'
    b'"allergens":[],"bumped":false,"seat":null,"void_qty":0,"void_reason":null,"changed":[],'
    b'"course":null,"prep_s":600,"start_at_ms":}],"id":,"order_id":,"station":"grill",'
    b'"status":"open","round":1,"created_at":"2026-","created_ms":,"bumped_at":null,'
    b'"course":null,"fired_ms":,"start_at_ms":,"due_ms":,"expected_s":600,"held_visible":false}}'
)
_DICTS = {1: _DICT_1}
_VERSION = 1
_LEVEL, _MEM_LEVEL = 3, 4
# a compressor with the dictionary already taken in, copied for each body: taking the
# dictionary in again for every body was a third of what packing one cost
_PRIMED = zlib.compressobj(
    _LEVEL, zlib.DEFLATED, _WBITS, _MEM_LEVEL, zlib.Z_DEFAULT_STRATEGY, _DICTS[_VERSION]
)


def pack(data: bytes) -> bytes | str:
    """What to store for the JSON text `data`: packed bytes, or (short) the text itself."""
    if len(data) < MIN_BYTES:
        return data.decode()
    co = _PRIMED.copy()
    packed = co.compress(data) + co.flush()
    if len(packed) + 2 >= len(data):
        return data.decode()
    return HEADER + bytes((_VERSION,)) + packed


def unpack(stored: bytes | str) -> bytes:
    """The JSON text of a stored body, packed or not."""
    if isinstance(stored, str):
        return stored.encode()
    if not stored.startswith(HEADER):
        return bytes(stored)
    zdict = _DICTS.get(stored[1]) if len(stored) > 1 else None
    if zdict is None:
        raise ValueError(f"packed body of unknown version {stored[1:2]!r}")
    do = zlib.decompressobj(_WBITS, zdict)
    return do.decompress(stored[2:]) + do.flush()
