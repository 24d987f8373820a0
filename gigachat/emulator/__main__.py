"""``python -m gigachat.emulator``: run the emulator on its own until Ctrl+C or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Iterable
from typing import Any

from gigachat.emulator.emulator import Emulator
from gigachat.emulator.models import CATALOGUES
from gigachat.emulator.oauth import DEMO_KEY, SCOPES


def _parse_key(text: str) -> tuple[str, list[str]]:
    key, sep, scopes = text.rpartition(":")
    if not sep or not key:
        raise argparse.ArgumentTypeError("expected KEY:SCOPE[,SCOPE...]")
    names = [s.strip() for s in scopes.split(",") if s.strip()]
    if not names or any(s not in SCOPES for s in names):
        raise argparse.ArgumentTypeError(f"scopes must be among {', '.join(SCOPES)}")
    return key, names


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m gigachat.emulator", description="GigaChat emulator (OAuth + API)."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9090, help="0 picks a free port")
    parser.add_argument("--tls-cert", help="server certificate (PEM) to serve HTTPS")
    parser.add_argument("--tls-key", help="private key (PEM) of --tls-cert")
    parser.add_argument("--token-lifetime", type=float, default=1800.0, metavar="S")
    parser.add_argument("--latency", type=float, default=0.0, metavar="S")
    parser.add_argument(
        "--stream-delay", type=float, default=0.0, metavar="S", help="pause between SSE chunks"
    )
    parser.add_argument("--fail-rate", type=float, default=0.0, metavar="P")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--catalogue",
        choices=sorted(CATALOGUES),
        default="legacy",
        help="model catalogue: legacy (gigachat.devices.sberbank.ru) or new (api.giga.chat)",
    )
    parser.add_argument(
        "--key",
        action="append",
        default=[],
        type=_parse_key,
        metavar="KEY:SCOPE",
        help="extra authorization key and its scopes (comma separated); repeatable",
    )
    args = parser.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the emulator until Ctrl+C or SIGTERM."""
    args = _parse_args(argv)
    keys: dict[str, Iterable[str]] = {DEMO_KEY: SCOPES}
    keys.update(dict(args.key))
    try:
        emulator = Emulator(
            host=args.host,
            port=args.port,
            tls=(args.tls_cert, args.tls_key) if args.tls_cert else None,
            keys=keys,
            token_lifetime=args.token_lifetime,
            latency=args.latency,
            seed=args.seed,
            catalogue=args.catalogue,
            stream_delay=args.stream_delay,
        )
        emulator.fail_rate = args.fail_rate
        emulator.start()
    except (OSError, ValueError) as exc:
        print(f"Cannot start the emulator: {exc}", file=sys.stderr, flush=True)
        return 2
    stop = threading.Event()
    _install_signal_handlers(stop)
    print(f"GigaChat emulator listening on {emulator.base_url}", flush=True)
    print(f"OAuth URL: {emulator.oauth_url}", flush=True)
    print(f"API URL: {emulator.api_url}", flush=True)
    print(f"Demo authorization key: {DEMO_KEY}", flush=True)
    print(f"Scopes: {', '.join(SCOPES)}", flush=True)
    print(f"Catalogue: {args.catalogue}", flush=True)
    print("Press Ctrl+C to stop.", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    print("Emulator stopped.", flush=True)
    return 0


def _install_signal_handlers(stop: threading.Event) -> None:
    def handler(signum: int, frame: Any) -> None:
        stop.set()

    for name in ("SIGINT", "SIGTERM", "SIGBREAK"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), handler)


if __name__ == "__main__":
    sys.exit(main())
