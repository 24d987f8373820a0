"""A real HTTP CONNECT proxy on a loopback port for the tests: open, Basic, NTLM or refusing.

NTLM is checked by a pyspnego acceptor (its users come from the file named by the
NTLM_USER_FILE variable, lines "DOMAIN:user:password"). `hosts` maps test host names to
loopback addresses, so a bridge that cannot resolve "api.gigachat.test" itself reaches the
emulator only through this proxy. Every request line it receives is recorded.
"""

from __future__ import annotations

import base64
import selectors
import socket
import socketserver
import threading

RELAY_IDLE = 60.0  # seconds a tunnel may stay silent before the proxy drops it


class _Handler(socketserver.BaseRequestHandler):
    server: ProxyServer

    def _head(self, buffer: bytes) -> tuple[bytes, bytes] | None:
        while b"\r\n\r\n" not in buffer:
            chunk = self.request.recv(65536)
            if not chunk:
                return None
            buffer += chunk
        head, rest = buffer.split(b"\r\n\r\n", 1)
        return head, rest

    def _reply(self, status: str, headers: list[str] = (), body: bytes = b"") -> None:
        lines = [f"HTTP/1.1 {status}", *headers, f"Content-Length: {len(body)}"]
        self.request.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    def handle(self) -> None:
        self.request.settimeout(30)
        buffer, ntlm = b"", None
        while True:
            got = self._head(buffer)
            if got is None:
                return
            head, buffer = got
            lines = head.decode("latin-1").split("\r\n")
            self.server.record(lines[0])
            method, target = (lines[0].split(" ") + ["", ""])[:2]
            if method != "CONNECT":
                self._reply("405 Method Not Allowed", ["Connection: close"])
                return
            auth = next((v.strip() for n, _, v in (line.partition(":") for line in lines[1:])
                         if n.strip().lower() == "proxy-authorization"), "")
            verdict, challenge = self.server.check(auth, ntlm)
            if verdict is True:
                self.server.connects.append(target)
                self._tunnel(target, buffer)
                return
            ntlm = verdict if verdict not in (None, False) else None  # NTLM goes on
            headers = [f"Proxy-Authenticate: {challenge}"]
            if verdict is False:
                headers.append("Connection: close")
            self._reply("407 Proxy Authentication Required", headers, b"auth required")
            if verdict is False:
                return

    def _tunnel(self, target: str, early: bytes) -> None:
        host, _, port = target.rpartition(":")
        address = self.server.hosts.get(host.strip("[]"), (host.strip("[]"), int(port)))
        try:
            upstream = socket.create_connection(address, timeout=10)
            for sock in (upstream, self.request):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            self._reply("502 Bad Gateway", ["Connection: close"])
            return
        self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        with upstream, selectors.DefaultSelector() as selector:
            if early:
                upstream.sendall(early)
            selector.register(self.request, selectors.EVENT_READ, upstream)
            selector.register(upstream, selectors.EVENT_READ, self.request)
            while not self.server.stopping.is_set():
                events = selector.select(RELAY_IDLE)
                if not events:
                    return
                for key, _ in events:
                    try:
                        data = key.fileobj.recv(65536)
                        if not data:
                            return
                        key.data.sendall(data)
                    except OSError:
                        return


class ProxyServer(socketserver.ThreadingTCPServer):
    """mode: "open", "basic", "ntlm", "negotiate" (SPNEGO wrapping NTLM) or "refuse" (asks
    for Basic and accepts nothing)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, mode: str = "open", user: str = "", password: str = "",
                 hosts: dict[str, tuple[str, int]] | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.mode, self.user, self.password = mode, user, password
        self.hosts = hosts or {}
        self.lines: list[str] = []
        self.connects: list[str] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="test-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def port(self) -> int:
        return self.server_address[1]

    def record(self, line: str) -> None:
        with self._lock:
            self.lines.append(line)

    def check(self, auth: str, ntlm):
        """(True | False | an NTLM context to go on with, Proxy-Authenticate value)."""
        if self.mode == "open":
            return True, ""
        if self.mode in ("basic", "refuse"):
            expected = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            ok = self.mode == "basic" and auth == f"Basic {expected}"
            return ok if ok or auth else None, 'Basic realm="test"'
        wanted = "NTLM" if self.mode == "ntlm" else "Negotiate"
        scheme, _, data = auth.partition(" ")
        if scheme.lower() != wanted.lower() or not data:
            return None, wanted
        import spnego
        from spnego.exceptions import SpnegoError

        context = ntlm or spnego.server(protocol=self.mode)
        try:
            answer = context.step(base64.b64decode(data))
        except SpnegoError:
            return False, wanted
        if context.complete:
            return True, ""
        return context, f"{wanted} " + base64.b64encode(answer).decode()

    def __enter__(self) -> ProxyServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()
        self._thread.join(10)
