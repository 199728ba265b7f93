"""`Authorization: Api-Key <key>` authentication (keys from djangorestframework-api-key).

The library only ships a permission class, which turns a missing key into 403; as an
authentication class with a `WWW-Authenticate: Api-Key` challenge DRF answers 401 instead.

Verified keys are remembered per process for ROUTER_API_KEY_CACHE_SECONDS: looking a key up was a
quarter of a single POST's CPU. Revoking or deleting a key through the ORM (admin, `save()`,
`delete()`) empties the cache of the process that did it at once; other processes refuse the key
once their entry expires, within those seconds.
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Any, cast

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.request import Request
from rest_framework_api_key.models import APIKey

from router.rate_limits import auth_failure_record, auth_failures_wait

KEYWORD = "Api-Key"
# Bounds the cache's memory whatever callers send; only keys that verified are ever stored.
KEY_CACHE_MAX_ENTRIES = 1024


class VerifiedKeys:
    """A small per-process map of verified keys (by a digest, never the key itself) to their APIKey."""

    def __init__(self, max_entries: int = KEY_CACHE_MAX_ENTRIES) -> None:
        self._max_entries = max_entries
        self._entries: dict[bytes, tuple[float, APIKey]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _digest(key: str) -> bytes:
        return hashlib.sha256(key.encode()).digest()

    def get(self, key: str, max_age: float) -> APIKey | None:
        entry = self._entries.get(self._digest(key))
        if entry is None or time.monotonic() - entry[0] > max_age:
            return None
        return entry[1]

    def put(self, key: str, api_key: APIKey) -> None:
        with self._lock:
            if len(self._entries) >= self._max_entries:
                self._entries.pop(next(iter(self._entries)))  # the oldest
            self._entries[self._digest(key)] = (time.monotonic(), api_key)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


verified_keys = VerifiedKeys()


@receiver(post_save, sender=APIKey, dispatch_uid="router.api_key_saved")
@receiver(post_delete, sender=APIKey, dispatch_uid="router.api_key_deleted")
def _forget_verified_keys(**kwargs: Any) -> None:
    """A revoked (saved) or deleted key must not stay usable from this process's cache."""
    verified_keys.clear()


def api_key_of(authorization: str) -> str | None:
    """The key an `Authorization` header value gives (empty when none follows the scheme), or None
    when it is not the Api-Key scheme at all."""
    scheme, _, key = authorization.partition(" ")
    return key.strip() if scheme.lower() == KEYWORD.lower() else None


def api_key_verify(key: str) -> APIKey:
    max_age: float = settings.ROUTER_API_KEY_CACHE_SECONDS
    api_key = verified_keys.get(key, max_age) if max_age > 0 else None
    if api_key is None:
        try:
            # Revoked keys are not "usable", so they fail here too.
            api_key = cast(APIKey, APIKey.objects.get_from_key(key))
        except APIKey.DoesNotExist:
            raise AuthenticationFailed("Invalid or revoked API key.") from None
        if max_age > 0:
            verified_keys.put(key, api_key)
    if api_key.has_expired:  # checked on every request: expiry needs no cache invalidation
        raise AuthenticationFailed("API key has expired.")
    return api_key


class ApiKeyAuthentication(BaseAuthentication):
    """Sets `request.auth` to the APIKey; `request.user` stays anonymous (a key is not a user)."""

    def authenticate(self, request: Request) -> tuple[AnonymousUser, APIKey] | None:
        key = api_key_of(get_authorization_header(request).decode("latin-1"))
        if key is None:
            return None  # not ours: let session authentication (browsable API) try
        address = request.META.get("REMOTE_ADDR", "")
        # An address that failed too often waits, whatever key it sends now: guessing keys is slow.
        wait = auth_failures_wait(address)
        if wait is not None:
            raise Throttled(wait=wait, detail="Too many failed API-key attempts from this address.")
        try:
            if not key:
                raise AuthenticationFailed("No API key given after `Api-Key`.")
            return AnonymousUser(), api_key_verify(key)
        except AuthenticationFailed:
            auth_failure_record(address)
            raise

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD
