"""Watching the process for things it must never do: open a file it has no business with, or
connect anywhere. Uses Python audit hooks (`open`, `socket.connect`), which see every file open
and every socket connect made from Python code in this process, including WeasyPrint's fetcher.

Audit hooks cannot be removed, so one hook is installed once and only records while a `Watch` is
active.
"""

from __future__ import annotations

import socket
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field

_ACTIVE: list[Watch] = []
_INSTALLED = [False]


@dataclass
class Watch:
    forbidden_paths: tuple[str, ...]
    opened: list[str] = field(default_factory=list)
    connects: list[str] = field(default_factory=list)


def _hook(event: str, args: tuple) -> None:
    if not _ACTIVE:
        return
    watch = _ACTIVE[-1]
    if event == "open":
        path = args[0]
        if isinstance(path, bytes):
            path = path.decode("utf-8", "replace")
        if isinstance(path, str) and any(path.startswith(p) for p in watch.forbidden_paths):
            watch.opened.append(path)
    elif event == "socket.connect":
        watch.connects.append(repr(args[1]))


@contextmanager
def watching(forbidden_paths: tuple[str, ...] = ("/etc/",)):
    if not _INSTALLED[0]:
        sys.addaudithook(_hook)
        _INSTALLED[0] = True
    watch = Watch(forbidden_paths)
    _ACTIVE.append(watch)
    try:
        yield watch
    finally:
        _ACTIVE.remove(watch)


class CountingListener:
    """A TCP listener on 127.0.0.1 that counts connections (a target a fetch would reach)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            try:
                conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/css\r\n\r\nbody{color:red}")
            except OSError:
                pass
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()
