"""Which URLs a webhook may be sent to: http(s) only, and — unless WEBHOOKS_ALLOW_PRIVATE — only hosts
that resolve to public addresses, so a client cannot make the worker call into our own network
(loopback, private ranges, link-local cloud metadata). Checked when an endpoint is registered, and by
the worker's session on each connection (a name may resolve elsewhere later).

A check before the request is not enough on its own: the HTTP client resolves the name again to
connect, and a name with a zero TTL can answer a public address to the check and a private one to the
connection (DNS rebinding). So the worker posts through `webhook_session`, which resolves once per
connection, refuses a private address and connects to the very address it checked (requests-hardened:
the Host header and TLS server name stay the URL's). It takes no proxy from the environment: a proxy
would resolve the name itself, after our check.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import requests
from requests_hardened import Config, Manager


class UnsafeWebhookUrl(ValueError):
    pass


def check_webhook_url(url: str, *, allow_private: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeWebhookUrl("Only http and https URLs with a host.")
    if allow_private:
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise UnsafeWebhookUrl(f"{parts.hostname} does not resolve: {error}") from None
    for *_, address in found:
        ip = ipaddress.ip_address(address[0])
        if not ip.is_global:
            raise UnsafeWebhookUrl(f"{parts.hostname} resolves to {ip}, a private, loopback or reserved address.")


def webhook_session(*, allow_private: bool) -> requests.Session:
    """The session webhooks are posted with (see the module's docstring)."""
    if allow_private:
        return requests.Session()
    config = Config(
        ip_filter_enable=True,
        ip_filter_allow_loopback_ips=False,
        never_redirect=True,  # a redirect to a private address is refused too; webhooks never follow one
        default_timeout=None,  # each post gives WEBHOOKS_TIMEOUT_SECONDS
    )
    session: requests.Session = Manager(config).get_session()
    session.trust_env = False
    return session
