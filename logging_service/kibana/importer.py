"""Kibana's saved-objects import API (POST /api/saved_objects/_import), over urllib3.

urllib3 already comes with the Elasticsearch client, so this needs no HTTP package of its own. Errors are
types: KibanaUnreachable (no HTTP answer at all) and KibanaRejected (an HTTP answer that is not a
successful import response); an import that Kibana ran but partly refused is an ImportResult with failures.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import urllib3

IMPORT_PATH = "/api/saved_objects/_import?overwrite=true"
UPLOAD_NAME = "saved_objects.ndjson"
CONNECT_TIMEOUT_SECONDS = 5.0
# Kibana migrates each imported object before answering; a busy or just-started Kibana takes a while.
READ_TIMEOUT_SECONDS = 60.0


class KibanaError(Exception):
    """Base of the errors kibana_setup reports as one line, without a traceback."""


class KibanaUnreachable(KibanaError):
    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"Kibana is unreachable at {url}: {reason}")
        self.url = url
        self.reason = reason


class KibanaRejected(KibanaError):
    def __init__(self, url: str, status: int, detail: str) -> None:
        super().__init__(f"Kibana at {url} answered HTTP {status}: {detail}")
        self.url = url
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class ImportFailure:
    """One object Kibana did not import, as its import response describes it."""

    type: str
    id: str
    title: str
    error: str
    detail: str

    def describe(self) -> str:
        name = f"{self.type} {self.id!r}" + (f" ({self.title})" if self.title else "")
        return f"{name}: {self.error}" + (f" - {self.detail}" if self.detail else "")


@dataclass(frozen=True)
class ImportResult:
    kibana_url: str  # without credentials, fit to show
    success: bool
    success_count: int
    failures: tuple[ImportFailure, ...]


@dataclass(frozen=True)
class KibanaEndpoint:
    """KIBANA_URL split into where to send and what to show: credentials in the URL
    (http://user:password@host:5601) become a basic-auth header and never appear in messages."""

    base_url: str
    headers: dict[str, str]

    @classmethod
    def parse(cls, url: str) -> KibanaEndpoint:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise KibanaError(f"KIBANA_URL must be an http(s) URL such as http://127.0.0.1:5601, not {url!r}")
        headers = {"kbn-xsrf": "true"}  # Kibana refuses API writes without it (CSRF protection)
        if parts.username:
            auth = f"{parts.username}:{parts.password or ''}"
            headers.update(urllib3.make_headers(basic_auth=auth))
        netloc = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
        base_url = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
        return cls(base_url=base_url, headers=headers)


def import_saved_objects(*, kibana_url: str, ndjson: bytes) -> ImportResult:
    """Upload `ndjson` as the multipart `file` field, overwriting objects with the same ids.

    Blocks up to the connect + read timeouts; raises KibanaUnreachable or KibanaRejected.
    """
    endpoint = KibanaEndpoint.parse(kibana_url)
    # No retries or redirects: one clear answer now beats a silent wait, and the command is safe to rerun.
    http = urllib3.PoolManager(
        retries=False, timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT_SECONDS, read=READ_TIMEOUT_SECONDS)
    )
    try:
        response = http.request(
            "POST",
            endpoint.base_url + IMPORT_PATH,
            fields={"file": (UPLOAD_NAME, ndjson, "application/ndjson")},
            headers=endpoint.headers,
        )
    except urllib3.exceptions.HTTPError as error:
        raise KibanaUnreachable(endpoint.base_url, _reason(error)) from error
    finally:
        http.clear()
    body = _json_or_none(response.data)
    if response.status != 200 or not isinstance(body, dict) or "success" not in body:
        raise KibanaRejected(endpoint.base_url, response.status, _detail(body, response.data))
    return ImportResult(
        kibana_url=endpoint.base_url,
        success=bool(body["success"]),
        success_count=int(body.get("successCount", 0)),
        failures=tuple(_failure(item) for item in body.get("errors", [])),
    )


def _reason(error: urllib3.exceptions.HTTPError) -> str:
    cause = error.__cause__
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror  # e.g. "Connection refused", "Name or service not known"
    # urllib3 starts its messages with the connection's repr, which only repeats the URL.
    return str(error).split("): ", 1)[-1]


def _json_or_none(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None


def _detail(body: Any, data: bytes) -> str:
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])  # Kibana's error shape: {"statusCode", "error", "message"}
    text = data.decode("utf-8", errors="replace").strip()
    return text[:300] or "(empty body)"


def _failure(item: dict[str, Any]) -> ImportFailure:
    error = item.get("error", {})
    missing = [f"{ref.get('type')} {ref.get('id')!r}" for ref in error.get("references", [])]
    detail = "missing " + ", ".join(missing) if missing else str(error.get("message", ""))
    return ImportFailure(
        type=str(item.get("type", "?")),
        id=str(item.get("id", "?")),
        title=str(item.get("meta", {}).get("title") or item.get("title") or ""),
        error=str(error.get("type", "unknown")),
        detail=detail,
    )
