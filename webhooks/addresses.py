"""Which URLs a webhook may be sent to: http(s) only, and — unless WEBHOOKS_ALLOW_PRIVATE — only hosts
that resolve to public addresses, so a client cannot make the worker call into our own network
(loopback, private ranges, link-local cloud metadata). Checked when an endpoint is registered and again
before each delivery (a name may resolve elsewhere later)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit


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
