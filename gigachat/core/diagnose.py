"""«Диагностика подключения»: step by step from the settings to a one-token chat, in Russian.

Steps: settings, key, proxy (reachable, authentication accepted), DNS (skipped when the proxy
resolves the names), TCP, TLS (which root verified the chain, or which issuer the server
presented), OAuth, /models, a one-token chat. The first failing step is named with its fix;
the later ones are not run. `tray_app.py --diagnose` prints the report, saves a copy without
secrets next to the logs and exits non-zero on a failure.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gigachat import PRODUCT_NAME, __version__
from gigachat.core import probe
from gigachat.core.credentials import CredentialStore
from gigachat.core.errors import BridgeError
from gigachat.core.logs import log_dir, redact
from gigachat.core.oauth import request_token
from gigachat.core.proxy import ProxyConfig, bypassed, for_settings
from gigachat.core.settings import Settings, config_path, load_settings
from gigachat.core.tls import make_session, ssl_context
from gigachat.core.transport import api_error, read_json, send

OK, FAILED, SKIPPED = "ok", "ошибка", "пропущен"
TIMEOUT = 10.0
_MARK = {OK: "[OK]    ", FAILED: "[ОШИБКА]", SKIPPED: "[—]     "}


@dataclass
class Step:
    title: str
    status: str
    detail: str
    fix: str = ""


@dataclass
class Report:
    steps: list[Step] = field(default_factory=list)
    started: float = field(default_factory=time.time)

    @property
    def ok(self) -> bool:
        return all(step.status != FAILED for step in self.steps)

    @property
    def first_failure(self) -> Step | None:
        return next((step for step in self.steps if step.status == FAILED), None)

    def text(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started))
        lines = [f"Диагностика подключения — {PRODUCT_NAME} {__version__}, {when}", ""]
        for number, step in enumerate(self.steps, 1):
            lines.append(f"{number}. {_MARK[step.status]} {step.title}: {step.detail}")
        lines.append("")
        failed = self.first_failure
        if failed is None:
            lines.append("Итог: все проверки пройдены, ГигаЧат доступен.")
        else:
            lines.append(f"Итог: первая ошибка — шаг «{failed.title}».")
            lines.append(f"Что сделать: {failed.fix}")
        return redact("\n".join(lines)) + "\n"


class _Stop(Exception):
    """A failed step: the diagnosis goes no further."""


class _Run:
    def __init__(self, report: Report) -> None:
        self.report = report

    def step(self, title: str, action: Callable[[], str], fix: str = "") -> str:
        try:
            detail = action()
        except probe.ProbeFailed as failure:
            self.report.steps.append(Step(title, FAILED, failure.detail, failure.fix))
            raise _Stop from None
        except BridgeError as error:
            self.report.steps.append(Step(title, FAILED, error.message, fix or error.message))
            raise _Stop from None
        self.report.steps.append(Step(title, OK, detail))
        return detail

    def skip(self, title: str, why: str) -> None:
        self.report.steps.append(Step(title, SKIPPED, why))


def _hosts(settings: Settings) -> list[tuple[str, int]]:
    seen: list[tuple[str, int]] = []
    for url in (settings.auth_url, settings.api_url):
        if probe.endpoint(url) not in seen:
            seen.append(probe.endpoint(url))
    return seen


def _each(hosts, check: Callable[[str, int], str]) -> str:
    return "; ".join(check(host, port) for host, port in hosts)


def _key(store: CredentialStore) -> str:
    if store.get_key() is None:
        raise probe.ProbeFailed(
            "ключ авторизации ГигаЧат не задан",
            "Введите ключ: значок моста → «Ключ авторизации…» или tray_app.py --set-key "
            "(на сервере — переменная окружения GIGACHAT_CREDENTIALS).")
    where = "переменная окружения" if store.source == "env" else "системное хранилище паролей"
    return f"ключ есть ({where})"


def _proxy_step(proxy: ProxyConfig, hosts, timeout: float) -> str:
    outside = [(h, p) for h, p in hosts if not bypassed(h, proxy)]
    for host, port in outside[:1]:  # one tunnel proves reachability and the credentials
        probe.connect(host, port, proxy, timeout).close()
    accepted = "авторизация принята" if proxy.auth else "авторизация не нужна"
    return f"{proxy.describe()}: доступен, {accepted}"


def _models(session, settings: Settings, token: str) -> tuple[str, list[str]]:
    response = send(session, "GET", settings.api_url.rstrip("/") + "/models", timeout=TIMEOUT,
                    headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
    with response:
        if response.status_code != 200:
            raise api_error(response, settings.api_url, "/models")
        body = read_json(response)
    names = [str(m.get("id")) for m in body.get("data", []) if isinstance(m, dict)] \
        if isinstance(body, dict) else []
    return f"доступно моделей: {len(names)}", names


def _chat(session, settings: Settings, token: str) -> str:
    payload = {"model": settings.model, "max_tokens": 1,
               "messages": [{"role": "user", "content": "Ответь одним словом: работает?"}]}
    response = send(session, "POST", settings.api_url.rstrip("/") + "/chat/completions",
                    timeout=(TIMEOUT, 60.0), data=json.dumps(payload, ensure_ascii=False).encode(),
                    headers={"Authorization": f"Bearer {token}",
                             "Content-Type": "application/json"})
    with response:
        if response.status_code != 200:
            raise api_error(response, settings.api_url, "/chat/completions", model=settings.model)
        read_json(response)
    return f"модель {settings.model} ответила"


def diagnose(environ: Mapping[str, str] = os.environ, settings_path: Path | None = None,
             store: CredentialStore | None = None, timeout: float = TIMEOUT) -> Report:
    """Run every step until the first failure; never raises for a network or setup problem."""
    report = Report()
    run = _Run(report)
    holder: dict[str, Any] = {}
    try:
        def settings_step() -> str:
            holder["settings"] = load_settings(environ, settings_path)
            return f"прочитаны ({settings_path or config_path()})"
        run.step("Настройки", settings_step)
        settings: Settings = holder["settings"]
        store = store or CredentialStore(environ)
        run.step("Ключ авторизации", lambda: _key(store))
        hosts = _hosts(settings)
        proxy = for_settings(settings, environ)
        if proxy is None:
            run.skip("Прокси", "не используется (прямое подключение)")
        else:
            run.step("Прокси", lambda: _proxy_step(proxy, hosts, timeout))
        direct = [(h, p) for h, p in hosts if bypassed(h, proxy)]
        if direct:
            run.step("DNS", lambda: _each(direct, lambda h, _p: probe.resolve(h)))
        else:
            run.skip("DNS", "имена серверов разрешает прокси-сервер")
        run.step("TCP", lambda: _each(hosts, lambda h, p: _tcp(h, p, proxy, timeout)))
        context = ssl_context(settings.ca_bundle) if settings.verify_tls else None
        if context is None:
            run.skip("TLS", "проверка сертификатов ВЫКЛЮЧЕНА настройкой verify_tls=false")
        else:
            secure = [probe.endpoint(u) for u in (settings.auth_url, settings.api_url)
                      if u.startswith("https://")]
            secure = [hp for i, hp in enumerate(secure) if hp not in secure[:i]]
            run.step("TLS", lambda: _each(
                secure, lambda h, p: probe.tls_check(h, p, proxy, context, timeout))
                or "адреса без https")
        session = make_session(settings.ca_bundle, settings.verify_tls, 2, proxy)
        with session:
            run.step("Авторизация (OAuth)", lambda: _oauth_into(holder, session, settings, store))
            run.step("Список моделей (/models)", lambda: _models_into(holder, session, settings))
            run.step("Пробный запрос (1 токен)", lambda: _chat(session, settings, holder["token"]))
    except _Stop:
        pass
    return report


def _tcp(host: str, port: int, proxy: ProxyConfig | None, timeout: float) -> str:
    probe.connect(host, port, proxy, timeout).close()
    via = "" if bypassed(host, proxy) else " через прокси"
    return f"{host}:{port} доступен{via}"


def _oauth_into(holder: dict, session, settings: Settings, store: CredentialStore) -> str:
    token, expires = request_token(session, settings.auth_url, settings.scope, store.get_key(),
                                   time.time)
    holder["token"] = token
    return f"токен получен (область {settings.scope}, действует {int(expires - time.time())} с)"


def _models_into(holder: dict, session, settings: Settings) -> str:
    detail, holder["models"] = _models(session, settings, holder["token"])
    return detail


def save_report(report: Report, folder: Path | None = None) -> Path:
    """Write the report as a UTF-8 text file (for the ticket to IT); it holds no secret."""
    folder = folder or log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(report.started))
    path = folder / f"diagnose-{stamp}.txt"
    path.write_text(report.text(), encoding="utf-8")
    return path


def run_cli(say: Callable[[str], None], environ: Mapping[str, str] = os.environ,
            folder: Path | None = None) -> int:
    """What `tray_app.py --diagnose` does: print, save, exit 0 (all ok) or 1."""
    report = diagnose(environ)
    say(report.text().rstrip("\n"))
    try:
        say(f"Копия отчёта (без секретов): {save_report(report, folder)}")
    except OSError as error:
        say(f"Не удалось сохранить копию отчёта ({type(error).__name__}).")
    return 0 if report.ok else 1
