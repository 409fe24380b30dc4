"""A stand-in for an ESP32 board's OTA port: enough of ESPHome's native OTA protocol
(version 1, SHA-256 challenge, no compression) for `esphome upload` to authenticate with the
board's password and send its firmware, which is kept in `received`.

Byte values and order follow ESPHome's client (esphome/espota2.py): magic, version, client
features, auth nonce / cnonce / result, size, MD5, the image, then receive-OK, end-OK and
the client's final acknowledgement."""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import socket
import threading

MAGIC = bytes([0x6C, 0x26, 0xF7, 0x5C, 0x45])
OK, REQUEST_SHA256_AUTH, AUTH_OK = 0x00, 0x02, 0x41
PREPARE_OK, MD5_OK, RECEIVE_OK, END_OK = 0x42, 0x43, 0x44, 0x45
ERROR_MAGIC, ERROR_AUTH, ERROR_MD5 = 0x80, 0x82, 0x8B
MAX_IMAGE = 16 * 1024 * 1024


class OtaStandIn:
    def __init__(self, host: str, password: str, port: int = 3232) -> None:
        self.password = password
        self.received: list[bytes] = []
        self.refused = 0
        self._server = socket.create_server((host, port))
        self._server.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> OtaStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._server.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn, contextlib.suppress(OSError, ConnectionError):
                conn.settimeout(10)
                self._serve(conn)

    def _serve(self, conn: socket.socket) -> None:
        def take(n: int) -> bytes:
            data = b""
            while len(data) < n:
                chunk = conn.recv(n - len(data))
                if not chunk:
                    raise ConnectionError("closed")
                data += chunk
            return data

        if take(5) != MAGIC:
            conn.sendall(bytes([ERROR_MAGIC]))
            return
        conn.sendall(bytes([OK, 1]))  # version 1: no per-chunk acknowledgements
        take(1)  # what the client supports
        conn.sendall(bytes([OK]))  # no compression, no extended protocol
        nonce = secrets.token_hex(32)
        conn.sendall(bytes([REQUEST_SHA256_AUTH]) + nonce.encode())
        cnonce, result = take(64).decode(), take(64).decode()
        expect = hashlib.sha256((self.password + nonce + cnonce).encode()).hexdigest()
        if result != expect:
            self.refused += 1
            conn.sendall(bytes([ERROR_AUTH]))
            return
        conn.sendall(bytes([AUTH_OK]))
        size = int.from_bytes(take(4), "big")
        if size > MAX_IMAGE:
            return
        conn.sendall(bytes([PREPARE_OK]))
        md5 = take(32).decode()
        conn.sendall(bytes([MD5_OK]))
        image = take(size)
        if hashlib.md5(image).hexdigest() != md5:
            conn.sendall(bytes([ERROR_MD5]))
            return
        conn.sendall(bytes([RECEIVE_OK, END_OK]))
        take(1)  # the client's acknowledgement
        self.received.append(image)
