"""Byte-exact HTTP requests as 1C:Enterprise 8.3's HTTPСоединение sends them.

We cannot run 1C here, so tests reproduce its requests over a raw socket (see
shared docs "onec-client.md"): the request line, then `Host: host:port`,
`User-Agent: 1C+Enterprise/8.3`, `Accept: */*`, the headers the BSL code
inserted (in its order), and `Content-Length` for a body; a UTF-8 body set from
a string starts with a byte-order mark unless the code passes
`ИспользованиеByteOrderMark.НеИспользовать`.
"""

from __future__ import annotations

import json
import socket

BOM = b"\xef\xbb\xbf"
USER_AGENT = "1C+Enterprise/8.3"


def onec_json(data: object, *, line_breaks: bool = True) -> bytes:
    """JSON as 1C's ЗаписьJSON writes it (UTF-8, Cyrillic unescaped), without a BOM.

    line_breaks=True imitates the default ПараметрыЗаписиJSON: pretty-printed with
    Windows line breaks (the exact indent 1C uses is not pinned down; JSON ignores
    it); False is `ПереносСтрокJSON.Нет`, one line.
    """
    if line_breaks:
        text = json.dumps(data, ensure_ascii=False, indent="\t", separators=(",", ": "))
        text = text.replace("\n", "\r\n")
    else:
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8")


def onec_request(
    host: str,
    port: int,
    path: str,
    body_bytes: bytes | None,
    *,
    bom: bool = True,
    headers: list[tuple[str, str]] | dict[str, str] | None = None,
    method: str | None = None,
    host_header: str | None = None,
    timeout: float = 30.0,
) -> tuple[int, dict[str, str], bytes]:
    """Send one request the way 1C does; return (status, headers, body).

    body_bytes=None sends no body (1C's `Получить`, a GET); otherwise the method is
    POST (`ОтправитьДляОбработки`) and, with bom=True, the body is prefixed with
    the UTF-8 byte-order mark. `headers` defaults to the tutorial form's single
    `Content-Type: application/json`; pass [] for none. host_header replaces the
    `Host` value (to play a DNS-rebound name). Response header names are
    lower-cased; a chunked response body is decoded.
    """
    if method is None:
        method = "GET" if body_bytes is None else "POST"
    if headers is None:
        headers = [("Content-Type", "application/json")] if body_bytes is not None else []
    if isinstance(headers, dict):
        headers = list(headers.items())
    body = b""
    if body_bytes is not None:
        body = (BOM + body_bytes) if bom and not body_bytes.startswith(BOM) else body_bytes
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {host_header or f'{host}:{port}'}",
        f"User-Agent: {USER_AGENT}",
        "Accept: */*",
    ]
    lines += [f"{name}: {value}" for name, value in headers]
    if body_bytes is not None:
        lines.append(f"Content-Length: {len(body)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(head + body)
        return _read_response(sock)


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    reader = sock.makefile("rb")
    status_line = reader.readline().decode("iso-8859-1")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise ValueError(f"not an HTTP response: {status_line!r}")
    status = int(parts[1])
    headers: dict[str, str] = {}
    while True:
        line = reader.readline().decode("iso-8859-1")
        if line in ("\r\n", "\n", ""):
            break
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = _read_chunked(reader)
    elif "content-length" in headers:
        body = reader.read(int(headers["content-length"]))
    else:
        body = reader.read()
    return status, headers, body


def _read_chunked(reader) -> bytes:
    chunks = []
    while True:
        size = int(reader.readline().split(b";", 1)[0].strip(), 16)
        if size == 0:
            while reader.readline() not in (b"\r\n", b"\n", b""):
                pass
            return b"".join(chunks)
        chunks.append(reader.read(size))
        reader.readline()
