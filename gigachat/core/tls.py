"""The HTTPS session every GigaChat call goes through: keep-alive, verified TLS, the proxy.

The session never reads proxy variables itself (trust_env is off): the one proxy choice is
gigachat.core.proxy, and tunnels are opened by gigachat.core.tunnel; loopback hosts and the
proxy's bypass list go direct.
"""

from __future__ import annotations

import logging
import ssl
from pathlib import Path
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter, _urllib3_request_context

from gigachat import APP_NAME, resource_path
from gigachat.core.proxy import ProxyConfig, bypassed
from gigachat.core.tunnel import tunnel_pool_manager

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


class _Adapter(HTTPAdapter):
    """An adapter whose pools all use one SSL context (None: requests' own), and which sends
    every non-bypassed host through a CONNECT tunnel of `proxy`."""

    def __init__(self, context: ssl.SSLContext | None, pool_size: int,
                 proxy: ProxyConfig | None = None) -> None:
        self._context, self._proxy, self._tunnel = context, proxy, None
        super().__init__(pool_connections=4, pool_maxsize=pool_size, max_retries=0)

    def init_poolmanager(self, connections, maxsize, block=False, **kwargs):
        if self._context is not None:
            kwargs["ssl_context"] = self._context
        super().init_poolmanager(connections, maxsize, block, **kwargs)
        if self._proxy is not None:
            self._tunnel = tunnel_pool_manager(self._proxy, connections, maxsize, block, **kwargs)

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        if self._tunnel is None or bypassed(urlsplit(request.url).hostname, self._proxy):
            return super().get_connection_with_tls_context(request, verify, None, cert)
        host_params, pool_kwargs = _urllib3_request_context(request, verify, cert, self._tunnel)
        return self._tunnel.connection_from_host(**host_params, pool_kwargs=pool_kwargs)

    def close(self) -> None:
        super().close()
        if self._tunnel is not None:
            self._tunnel.clear()


class _Session(requests.Session):
    """A session whose `verify` is not overridden by REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE."""

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        merged = super().merge_environment_settings(url, proxies, stream, verify, cert)
        merged["verify"] = self.verify if verify is None else verify
        return merged


def make_session(ca_bundle: str = "", verify: bool = True, pool_size: int = 16,
                 proxy: ProxyConfig | None = None) -> requests.Session:
    """One keep-alive session; TLS is verified unless `verify` is explicitly False."""
    session = _Session()
    session.trust_env = False  # no HTTPS_PROXY/.netrc of its own: `proxy` is the one choice
    session.headers["User-Agent"] = APP_NAME
    context = None
    if verify:
        context = ssl_context(ca_bundle)
    else:
        log.warning(
            "TLS certificate verification is TURNED OFF by the setting verify_tls=false: "
            "traffic to GigaChat can be intercepted. Turn it back on."
        )
        session.verify = False
    if proxy is not None:
        log.info("GigaChat calls go through the proxy %s", proxy.describe())
    session.mount("https://", _Adapter(context, pool_size, proxy))
    session.mount("http://", _Adapter(None, pool_size, proxy))
    return session
