"""The HTTPS session every GigaChat call goes through: keep-alive and verified TLS."""

from __future__ import annotations

import logging
import ssl
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter

from gigachat import APP_NAME, resource_path

log = logging.getLogger(__name__)

ROOT_CA_NAME = "russian_trusted_root_ca.pem"


def bundled_root_ca() -> Path:
    return resource_path("certs", ROOT_CA_NAME)


def ssl_context(ca_bundle: str = "") -> ssl.SSLContext:
    """OS trust store + the Russian Trusted Root CA + an optional extra CA file."""
    context = ssl.create_default_context()
    context.load_verify_locations(cafile=str(bundled_root_ca()))
    if ca_bundle:
        context.load_verify_locations(cafile=ca_bundle)
    return context


class _ContextAdapter(HTTPAdapter):
    """An adapter whose pools all use one SSL context."""

    def __init__(self, context: ssl.SSLContext, pool_size: int) -> None:
        self._context = context
        super().__init__(pool_connections=4, pool_maxsize=pool_size, max_retries=0)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["ssl_context"] = self._context
        return super().init_poolmanager(*args, **kwargs)

    def proxy_manager_for(self, proxy, **kwargs):
        kwargs["ssl_context"] = self._context
        return super().proxy_manager_for(proxy, **kwargs)


class _Session(requests.Session):
    """A session whose `verify` is not overridden by REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE."""

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        merged = super().merge_environment_settings(url, proxies, stream, verify, cert)
        merged["verify"] = self.verify if verify is None else verify
        return merged


def make_session(ca_bundle: str = "", verify: bool = True, pool_size: int = 16) -> requests.Session:
    """One keep-alive session; TLS is verified unless `verify` is explicitly False."""
    session = _Session()
    session.headers["User-Agent"] = APP_NAME
    if verify:
        adapter = _ContextAdapter(ssl_context(ca_bundle), pool_size)
    else:
        log.warning(
            "TLS certificate verification is TURNED OFF by the setting verify_tls=false: "
            "traffic to GigaChat can be intercepted. Turn it back on."
        )
        session.verify = False
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0))
    return session
