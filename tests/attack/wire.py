"""Sending a body as an attacker does, over a plain socket: the headers, then the body in chunks
until it is all sent or the server answers (an answer before the end means the server refused
without reading the rest). `requests` would send the whole body first and lose the answer to the
reset a closing server sends."""

from __future__ import annotations

import http.client
import json
import select
import socket
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass
class Answer:
    status_code: int
    headers: dict[str, str]
    body: bytes
    sent: int  # body bytes the server took before it answered

    def json(self):
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")


def send(
    url: str,
    path: str,
    chunks: Iterable[bytes],
    *,
    content_type: str,
    length: int | None,
    headers: dict[str, str] | None = None,
    timeout: float = 300,
) -> Answer:
    """POST path with the body `chunks`, declared as `length` bytes (None: chunked encoding)."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=timeout)
    try:
        head = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Content-Type: {content_type}"]
        head.append(
            f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
        )
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        sent = 0
        for chunk in chunks:
            if select.select([sock], [], [], 0)[0]:
                break  # the server answered: stop sending
            data = chunk if length is not None else b"%x\r\n%s\r\n" % (len(chunk), chunk)
            try:
                sock.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        else:
            if length is None:
                try:
                    sock.sendall(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = response.read()
        return Answer(response.status, dict(response.getheaders()), body, sent)
    finally:
        sock.close()


def repeated(block: bytes, total: int, chunk: int = 1 << 20) -> Iterable[bytes]:
    """`total` bytes made of `block` repeated, in chunks of about `chunk` bytes."""
    piece = block * max(1, chunk // len(block))
    left = total
    while left > 0:
        out = piece[:left]
        left -= len(out)
        yield out
