"""ELASTICSEARCH_URL as a list of node URLs. At the bottom layer, so settings can check the value when
they are read (a bad one stops every process at start-up, naming the setting) and every Elasticsearch
client reads the same list (logging_service.connection)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_SEPARATORS = re.compile(r"[\s,]+")


def _shown(url: str) -> str:
    """The URL as an error may show it: without a password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=f"{parts.username}:***@{parts.netloc.rpartition('@')[2]}").geturl()


def elasticsearch_hosts(value: str) -> list[str]:
    """The node URLs `value` names, in order: one, or several separated by spaces or commas
    (`http://es1:9200,http://es2:9200`). Raises ValueError, saying why, unless each is an http or https
    URL with a host (and a port that is a number)."""
    urls = [part for part in _SEPARATORS.split(value) if part]
    if not urls:
        raise ValueError("names no URL (give http://host:9200, or several separated by commas)")
    for url in urls:
        parts = urlsplit(url)
        try:
            port_ok = parts.port is None or parts.port > 0
        except ValueError:
            port_ok = False
        if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
            raise ValueError(f"{_shown(url)!r} is not an http:// or https:// URL with a host and port")
    return urls
