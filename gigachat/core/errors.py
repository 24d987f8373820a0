"""Typed errors, each carrying the Russian message a user sees."""

from __future__ import annotations

from gigachat.core.logs import clean_detail


class BridgeError(Exception):
    """Base class: `message` is Russian and safe to show; `code` is a short English id."""

    def __init__(self, message: str, code: str = "error") -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        return self.message


class InvalidRequest(BridgeError):
    """The caller (1C, an OpenAI client) sent something unusable: answer 400 with `message`.

    The one validation error type of both local APIs; `field` names the offending field
    (e.g. ``"messages[2].content"``) when there is one. Any other exception inside a route
    is a programming error (500, logged with its traceback), never a 400.
    """

    def __init__(self, message: str, field: str | None = None, code: str = "bad_request") -> None:
        super().__init__(message, code)
        self.field = field


class ConfigError(BridgeError):
    """A setting has a bad value; the message names the setting and the fix."""

    def __init__(self, message: str, code: str = "config") -> None:
        super().__init__(message, code)


class KeyringUnavailable(BridgeError):
    """No usable OS keyring (missing backend, locked, or broken)."""

    def __init__(self, message: str, code: str = "keyring") -> None:
        super().__init__(message, code)


class NoCredentials(BridgeError):
    """No authorization key is configured."""

    def __init__(
        self,
        message: str = "Не задан ключ авторизации ГигаЧат. Откройте меню «Ключ авторизации…» "
        "в значке моста или задайте переменную GIGACHAT_CREDENTIALS.",
        code: str = "no_credentials",
    ) -> None:
        super().__init__(message, code)


class GigaChatError(BridgeError):
    """A failed call to GigaChat (OAuth or API).

    `detail` is GigaChat's own error text, redacted and capped (logs.clean_detail) as it
    enters, so it is safe in an answer or /health; `request_id` is its X-Request-Id.
    """

    status: int | None = None
    code_name = "gigachat"
    retryable = False
    template = "Ошибка ГигаЧат."

    def __init__(
        self, detail: str = "", *, status: int | None = None, message: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.detail = clean_detail(detail)
        self.request_id = clean_detail(request_id, 100) if request_id else None
        if status is not None:
            self.status = status
        super().__init__(message or self.template, self.code_name)


# --- OAuth (getting a token) -------------------------------------------------


class WrongKey(GigaChatError):
    status = 401
    code_name = "wrong_key"
    template = (
        "Неверный ключ авторизации ГигаЧат: сервер его не принял. Проверьте ключ в личном "
        "кабинете developers.sber.ru и введите его заново в меню «Ключ авторизации…»."
    )


class ScopeMismatch(GigaChatError):
    status = 400
    code_name = "scope_mismatch"
    template = (
        "Ключ авторизации выдан для другой версии API (scope). Выберите в настройках тот scope, "
        "для которого выпущен ключ: GIGACHAT_API_PERS (физлица), GIGACHAT_API_B2B или "
        "GIGACHAT_API_CORP (юрлица)."
    )


class MalformedKey(GigaChatError):
    status = 400
    code_name = "malformed_key"
    template = (
        "Ключ авторизации записан неверно: ГигаЧат не смог его прочитать. Скопируйте ключ "
        "из личного кабинета целиком, без пробелов и переносов строк."
    )


class OAuthRejected(GigaChatError):
    status = 400
    code_name = "oauth_rejected"
    template = "Сервер авторизации ГигаЧат отклонил запрос токена."


# --- API answers -------------------------------------------------------------


class BadRequest(GigaChatError):
    status = 400
    code_name = "bad_request"
    template = "ГигаЧат отклонил запрос как некорректный."


class Unauthorized(GigaChatError):
    status = 401
    code_name = "unauthorized"
    template = "ГигаЧат не принял токен доступа даже после его обновления. Проверьте ключ авторизации."


class PaymentRequired(GigaChatError):
    status = 402
    code_name = "payment_required"
    template = (
        "Закончился пакет токенов или лимит ГигаЧат. Пополните баланс или подключите пакет "
        "в личном кабинете developers.sber.ru."
    )


class PermissionDenied(GigaChatError):
    status = 403
    code_name = "permission_denied"
    template = "Нет доступа к этой функции ГигаЧат для вашего ключа (403)."


class ModelNotFound(GigaChatError):
    status = 404
    code_name = "model_not_found"
    template = (
        "Такой модели ГигаЧат нет на этом адресе. Выберите модель из списка в настройках "
        "(например, GigaChat-2)."
    )


class EndpointNotFound(GigaChatError):
    """GigaChat answered 404 for the address itself (a wrong API path), not for a model."""

    status = 404
    code_name = "not_found"
    template = "ГигаЧат не знает этот адрес (404): проверьте GIGACHAT_API_URL."


class UnexpectedAnswer(GigaChatError):
    """GigaChat answered 2xx with something we cannot read (not JSON, not a stream)."""

    status = 502
    code_name = "bad_answer"
    template = "ГигаЧат прислал непонятный ответ."


class PayloadTooLarge(GigaChatError):
    status = 413
    code_name = "payload_too_large"
    template = "Запрос слишком большой для ГигаЧат. Сократите текст."


class InvalidParams(GigaChatError):
    status = 422
    code_name = "invalid_params"
    template = "ГигаЧат отклонил параметры запроса"

    def __init__(self, detail: str = "", *, status: int | None = None, message: str | None = None,
                 request_id: str | None = None):
        detail = clean_detail(detail)
        reason = f": {detail}" if detail else "."
        super().__init__(detail, status=status, message=message or self.template + reason,
                         request_id=request_id)


class RateLimited(GigaChatError):
    status = 429
    code_name = "rate_limited"
    retryable = True
    template = "ГигаЧат перегружен запросами (429). Повторите попытку через минуту."


class ServerError(GigaChatError):
    status = 500
    code_name = "server_error"
    retryable = True
    template = "Сервер ГигаЧат временно недоступен (ошибка на стороне ГигаЧат). Повторите позже."


class UpstreamTimeout(GigaChatError):
    status = 504
    code_name = "timeout"
    retryable = True
    template = "ГигаЧат не ответил вовремя. Повторите запрос или сократите текст."


class TLSError(GigaChatError):
    status = 502
    code_name = "tls"
    template = (
        "Не удалось проверить сертификат сервера ГигаЧат (ошибка TLS). Если в организации "
        "есть прокси с проверкой трафика, укажите его корневой сертификат в GIGACHAT_CA_BUNDLE."
    )


class NetworkError(GigaChatError):
    status = 502
    code_name = "network"
    retryable = True
    template = (
        "Нет связи с сервером ГигаЧат. Проверьте подключение к интернету и настройки прокси."
    )


_BY_STATUS: dict[int, type[GigaChatError]] = {
    400: BadRequest,
    401: Unauthorized,
    402: PaymentRequired,
    403: PermissionDenied,
    404: ModelNotFound,
    413: PayloadTooLarge,
    422: InvalidParams,
    429: RateLimited,
}


def error_for_status(status: int, detail: str = "", request_id: str | None = None) -> GigaChatError:
    """The typed API error for an HTTP status from GigaChat."""
    kind = ServerError if status >= 500 else _BY_STATUS.get(status, BadRequest)
    return kind(detail, status=status, request_id=request_id)
