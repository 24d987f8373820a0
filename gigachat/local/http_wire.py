"""HTTP/1.1 on the wire: request heads with hard limits, bounded body readers, response heads."""

from __future__ import annotations

import re
import socket
import time
from dataclasses import dataclass, field

MAX_REQUEST_LINE = 8 * 1024  # bytes; longer → 414
MAX_HEADER_BYTES = 32 * 1024  # the header block after the request line; larger → 431
MAX_HEADERS = 100
MAX_CHUNK_LINE = 1024
PIECE = 64 * 1024  # the most read from a socket at once

_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
_LINE_BREAK = re.compile(rb"\r?\n")
_TOKEN = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_VERSIONS = ("HTTP/1.0", "HTTP/1.1")


class ProtocolError(Exception):
    """The request breaks HTTP framing or a limit; status and a Russian message for the caller."""

    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


def _bad(message: str) -> ProtocolError:
    return ProtocolError(400, f"Некорректный HTTP-запрос: {message}.", "bad_request")


def too_long_line() -> ProtocolError:
    return ProtocolError(414, f"Адрес запроса длиннее {MAX_REQUEST_LINE // 1024} КБ.", "uri_too_long")


def too_big_headers() -> ProtocolError:
    return ProtocolError(431, f"Заголовки запроса больше {MAX_HEADER_BYTES // 1024} КБ "
                         f"или их больше {MAX_HEADERS}.", "headers_too_large")


def too_slow() -> ProtocolError:
    return ProtocolError(408, "Запрос не пришёл целиком вовремя: соединение закрыто по тайм-ауту.",
                         "request_timeout")


@dataclass
class RequestHead:
    """A parsed request line and headers (names lower-cased, values latin-1 as PEP 3333 wants)."""

    method: str
    target: str
    version: str
    headers: list[tuple[str, str]] = field(default_factory=list)

    def get(self, name: str) -> str | None:
        values = [value for key, value in self.headers if key == name]
        return ", ".join(values) if values else None

    @property
    def chunked(self) -> bool:
        return self.get("transfer-encoding") is not None

    @property
    def content_length(self) -> int:
        value = self.get("content-length")
        return int(value) if value is not None else 0

    @property
    def keep_alive(self) -> bool:
        tokens = {t.strip().lower() for t in (self.get("connection") or "").split(",")}
        if self.version == "HTTP/1.1":
            return "close" not in tokens
        return "keep-alive" in tokens


def head_end(buffer: bytes | bytearray) -> int:
    """Index just past the blank line ending the head, or -1; checks the limits meanwhile."""
    blank = _BLANK_LINE.search(buffer)  # CRLF CRLF, or bare LFs as RFC 9112 §2.2 allows
    if blank is not None:
        return blank.end()
    first_line = buffer.find(b"\n")
    if (first_line < 0 and len(buffer) > MAX_REQUEST_LINE) or first_line > MAX_REQUEST_LINE:
        raise too_long_line()
    if len(buffer) > MAX_REQUEST_LINE + MAX_HEADER_BYTES:
        raise too_big_headers()
    return -1


def parse_head(data: bytes) -> RequestHead:
    """Parse a complete head (ending in a blank line); ProtocolError on anything doubtful."""
    lines = _LINE_BREAK.split(data[: _BLANK_LINE.search(data).start()])
    request_line = lines[0]
    if len(request_line) > MAX_REQUEST_LINE:
        raise too_long_line()
    if len(data) - len(request_line) > MAX_HEADER_BYTES or len(lines) - 1 > MAX_HEADERS:
        raise too_big_headers()
    parts = request_line.split(b" ")
    if len(parts) != 3 or not _TOKEN.match(parts[0]) or not parts[1]:
        raise _bad("строка запроса должна быть «МЕТОД /адрес HTTP/1.1»")
    method, target, version = (part.decode("latin-1") for part in parts)
    if version not in _VERSIONS:
        if version.startswith("HTTP/"):
            raise ProtocolError(505, "Поддерживаются только HTTP/1.0 и HTTP/1.1.", "http_version")
        raise _bad("строка запроса должна быть «МЕТОД /адрес HTTP/1.1»")
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in target):
        raise _bad("в адресе есть управляющие символы")
    head = RequestHead(method, target, version)
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.match(name):
            raise _bad("неверная строка заголовка")
        text = value.strip(b" \t").decode("latin-1")
        if any(ord(ch) < 0x20 and ch != "\t" or ord(ch) == 0x7F for ch in text):
            raise _bad("в заголовке есть управляющие символы")
        head.headers.append((name.decode("latin-1").lower(), text))
    _check_framing(head)
    return head


def _check_framing(head: RequestHead) -> None:
    """Refuse ambiguous bodies (request smuggling) and more than one Host."""
    names = [name for name, _ in head.headers]
    if names.count("host") > 1:
        raise _bad("заголовок Host повторяется")
    lengths = names.count("content-length")
    encodings = names.count("transfer-encoding")
    if lengths > 1:
        raise _bad("заголовок Content-Length повторяется")
    if lengths and encodings:
        raise _bad("Content-Length и Transfer-Encoding вместе")
    if lengths and not (head.get("content-length") or "").isdigit():
        raise _bad("Content-Length должен быть целым неотрицательным числом")
    if encodings:
        if encodings > 1 or (head.get("transfer-encoding") or "").lower() != "chunked":
            raise ProtocolError(501, "Поддерживается только Transfer-Encoding: chunked.",
                                "unsupported_encoding")
        if head.version == "HTTP/1.0":
            raise _bad("Transfer-Encoding в HTTP/1.0")


class SocketReader:
    """Buffered blocking reads from a socket; each read bounded by a deadline (→ 408)."""

    def __init__(self, sock: socket.socket, leftover: bytes, deadline: float) -> None:
        self.sock, self.buffer, self.deadline = sock, bytearray(leftover), deadline

    def _fill(self) -> None:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise too_slow()
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(PIECE)
        except TimeoutError:
            raise too_slow() from None
        if not data:
            raise _bad("соединение закрыто до конца тела запроса")
        self.buffer += data

    def take(self, most: int) -> bytes:
        """Between 1 and `most` bytes."""
        if not self.buffer:
            self._fill()
        data = bytes(self.buffer[:most])
        del self.buffer[:most]
        return data

    def line(self, limit: int) -> bytes:
        while (end := self.buffer.find(b"\r\n")) < 0:
            if len(self.buffer) > limit:
                raise _bad("слишком длинная строка в теле с Transfer-Encoding: chunked")
            self._fill()
        data = bytes(self.buffer[:end])
        del self.buffer[:end + 2]
        return data


class BodyReader:
    """wsgi.input: the body by Content-Length or chunked, in bounded pieces, never past `n`."""

    def __init__(self, reader: SocketReader, head: RequestHead, on_first_read=None) -> None:
        self.reader, self.chunked = reader, head.chunked
        self.left = 0 if self.chunked else head.content_length  # bytes left in this chunk/body
        self.done = not self.chunked and self.left == 0
        self._on_first_read = on_first_read

    def read(self, n: int = -1) -> bytes:
        parts: list[bytes] = []
        wanted = n if n is not None and n >= 0 else float("inf")
        got = 0
        while got < wanted and not self.done:
            if self._on_first_read is not None:
                self._on_first_read()
                self._on_first_read = None
            if self.chunked and self.left == 0:
                self._next_chunk()
                continue
            piece = self.reader.take(int(min(self.left, wanted - got, PIECE)))
            parts.append(piece)
            got += len(piece)
            self.left -= len(piece)
            if self.left == 0:
                if self.chunked:
                    if self.reader.line(2) != b"":
                        raise _bad("после части тела нет перевода строки")
                else:
                    self.done = True
        return b"".join(parts)

    def _next_chunk(self) -> None:
        size_text = self.reader.line(MAX_CHUNK_LINE).split(b";", 1)[0].strip()
        if not size_text or len(size_text) > 16 or \
                any(ch not in b"0123456789abcdefABCDEF" for ch in size_text):
            raise _bad("неверный размер части тела (Transfer-Encoding: chunked)")
        self.left = int(size_text, 16)
        if self.left == 0:
            for _ in range(MAX_HEADERS):
                if self.reader.line(MAX_CHUNK_LINE) == b"":
                    self.done = True
                    return
            raise too_big_headers()

    def readline(self, limit: int = -1) -> bytes:  # WSGI asks for it; nothing here uses lines
        return self.read(limit if limit is not None and limit >= 0 else PIECE)

    def __iter__(self):
        while chunk := self.read(PIECE):
            yield chunk


REASONS = {100: "Continue", 200: "OK", 204: "No Content", 400: "Bad Request", 403: "Forbidden",
           404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout",
           413: "Payload Too Large", 414: "URI Too Long", 431: "Request Header Fields Too Large",
           500: "Internal Server Error", 501: "Not Implemented", 505: "HTTP Version Not Supported"}


def response_head(status: str, headers: list[tuple[str, str]]) -> bytes:
    """Status line and headers; CR/LF in a value would split the response, so refuse them."""
    lines = [f"HTTP/1.1 {status}"]
    for name, value in headers:
        if any(ch in "\r\n" for ch in f"{name}{value}"):
            raise ValueError(f"CR/LF in response header {name!r}")
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
