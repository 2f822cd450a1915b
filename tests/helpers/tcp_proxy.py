"""A TCP proxy on loopback that a test can cut, restore and hold.

Put in front of PostgreSQL it makes the database "briefly unavailable" for the
helpline without stopping the machine's server: ``cut`` drops every connection and
refuses new ones until ``restore``. Put in front of Rasa, ``hold`` lets requests
through but keeps the answers back until ``release``, so that a test can kill the
caller while the callee has already done the work.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from typing import Self

CHUNK = 65536


class TcpProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._open = threading.Event()
        self._open.set()
        self._flowing = threading.Event()
        self._flowing.set()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self.accepted = 0

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def start(self) -> Self:
        threading.Thread(target=self._accept, name="tcp-proxy", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._flowing.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        self._drop_all()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # Faults -----------------------------------------------------------------------------

    def cut(self) -> None:
        """Drop every open connection (reset) and refuse new ones."""
        self._open.clear()
        self._drop_all()

    def restore(self) -> None:
        self._open.set()

    def hold(self) -> None:
        """Forward requests, keep answers back."""
        self._flowing.clear()

    def release(self) -> None:
        self._flowing.set()

    # Plumbing ---------------------------------------------------------------------------

    def _drop_all(self) -> None:
        with self._lock:
            connections = list(self._connections)
            self._connections.clear()
        for connection in connections:
            _reset(connection)

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._open.is_set():
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                self._connections.update((client, upstream))
                self.accepted += 1
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, answers: bool) -> None:
        try:
            while True:
                data = source.recv(CHUNK)
                if not data:
                    break
                if answers:
                    self._flowing.wait()
                target.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, target):
                with self._lock:
                    self._connections.discard(end)
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    end.close()


def _reset(connection: socket.socket) -> None:
    """Close with a TCP reset, as a dead server or a dropped link looks to the client.

    ``shutdown`` first: closing alone neither wakes a thread blocked reading the
    socket nor tells the peer, which would leave the client waiting forever.
    """
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        connection.close()
