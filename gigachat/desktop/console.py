"""The console, which the windowed build does not have: one way to print, the log on screen,
and argparse speaking Russian.

In the windowed (PyInstaller --windowed) build sys.stdout and sys.stderr are None and file
descriptors 1 and 2 are not usable: everything shown on the console goes through `say()`,
which also logs it, and never raises.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Iterator

log = logging.getLogger("gigachat.console")

# Loggers whose INFO lines the user (and the tests) read on the console; the rest of the log
# shows there only from ERROR up, once per message template (the file keeps everything).
CONSOLE_LOGGERS = ("gigachat.app", "gigachat.desktop")


def _write(stream, text: str) -> bool:
    """Write and flush; False when there is no usable stream (None, closed, a dead fd)."""
    if stream is None:
        return False
    try:
        try:
            stream.write(text)
        except UnicodeEncodeError:  # e.g. a Windows console in cp866
            encoding = getattr(stream, "encoding", None) or "ascii"
            stream.write(text.encode(encoding, "replace").decode(encoding))
        stream.flush()
    except (OSError, ValueError, AttributeError):
        return False
    return True


def say(text: str, *, error: bool = False) -> None:
    """Show a line to the user on the console (stderr for errors); logged in any case."""
    (log.warning if error else log.info)("%s", text)
    _write(sys.stderr if error else sys.stdout, text + "\n")


class _ConsoleFilter(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self._seen: set[tuple[str, object]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == log.name:  # say() already printed it
            return False
        if record.name.startswith(CONSOLE_LOGGERS):
            return True
        if record.levelno < logging.ERROR:
            return False
        template = (record.name, record.msg)
        if template in self._seen:
            return False
        self._seen.add(template)
        return True


class ConsoleHandler(logging.Handler):
    """The log on the console (stderr, looked up at each line), filtered as described above."""

    def __init__(self) -> None:
        super().__init__()
        self.addFilter(_ConsoleFilter())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:  # a broken record must not reach a console that may not exist
            return
        _write(sys.stderr, line + "\n")


def attach_console_log(formatter: logging.Formatter | None = None) -> ConsoleHandler | None:
    """Add the console handler to the root logger (none when there is no console)."""
    if sys.stderr is None:
        return None
    handler = ConsoleHandler()
    handler.setFormatter(formatter or logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
    return handler


# --- argparse in Russian ------------------------------------------------------

_RUSSIAN = {
    "usage: ": "Использование: ",
    "options": "параметры",
    "positional arguments": "аргументы",
    "show this help message and exit": "показать эту справку и выйти",
    "show program's version number and exit": "показать версию программы и выйти",
    "unrecognized arguments: %s": "неизвестные параметры: %s",
    "argument %(argument_name)s: %(message)s": "параметр %(argument_name)s: %(message)s",
    "expected one argument": "после него нужно указать значение",
    "expected at most one argument": "после него можно указать не больше одного значения",
    "expected at least one argument": "после него нужно указать хотя бы одно значение",
    "invalid %(type)s value: %(value)r": "неверное значение %(value)r",
    "invalid choice: %(value)r (choose from %(choices)s)":
        "недопустимое значение %(value)r (допустимы: %(choices)s)",
    "not allowed with argument %s": "нельзя указывать вместе с %s",
    "ignored explicit argument %r": "лишнее значение %r",
    "ambiguous option: %(option)s could match %(matches)s":
        "неоднозначный параметр %(option)s: подходят %(matches)s",
    "the following arguments are required: %s": "не хватает обязательных параметров: %s",
    "%(prog)s: error: %(message)s\n": "%(prog)s: ошибка: %(message)s\n",
}


def _gettext(message: str) -> str:
    return _RUSSIAN.get(message, message)


def _ngettext(singular: str, plural: str, n: int) -> str:
    return _gettext(singular if n == 1 else plural)


@contextlib.contextmanager
def _russian_argparse() -> Iterator[None]:
    """argparse looks its texts up through gettext at call time: answer in Russian meanwhile."""
    saved = argparse._, argparse.ngettext
    argparse._, argparse.ngettext = _gettext, _ngettext
    try:
        yield
    finally:
        argparse._, argparse.ngettext = saved


class RussianArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose help, usage and errors are Russian and reach the console via
    `_write` (a windowed build has none: then they are only logged)."""

    def __init__(self, *args, **kwargs) -> None:
        with _russian_argparse():
            super().__init__(*args, **kwargs)

    def parse_args(self, args=None, namespace=None):  # noqa: D102 - argparse's own
        with _russian_argparse():
            return super().parse_args(args, namespace)

    def format_help(self) -> str:
        with _russian_argparse():
            return super().format_help()

    def format_usage(self) -> str:
        with _russian_argparse():
            return super().format_usage()

    def _print_message(self, message: str, file=None) -> None:
        if message:
            log.info("command line: %s", message.strip())
            _write(file or sys.stderr, message)
