"""`Authorization: Api-Key <key>` authentication (keys from djangorestframework-api-key).

The library only ships a permission class, which turns a missing key into 403; as an
authentication class with a `WWW-Authenticate: Api-Key` challenge DRF answers 401 instead.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request
from rest_framework_api_key.models import APIKey

KEYWORD = "Api-Key"


class ApiKeyAuthentication(BaseAuthentication):
    """Sets `request.auth` to the APIKey; `request.user` stays anonymous (a key is not a user)."""

    def authenticate(self, request: Request) -> tuple[AnonymousUser, APIKey] | None:
        scheme, _, key = get_authorization_header(request).decode("latin-1").partition(" ")
        if scheme.lower() != KEYWORD.lower():
            return None  # not ours: let session authentication (browsable API) try
        key = key.strip()
        if not key:
            raise AuthenticationFailed("No API key given after `Api-Key`.")
        try:
            # Revoked keys are not "usable", so they fail here too.
            api_key = APIKey.objects.get_from_key(key)
        except APIKey.DoesNotExist:
            raise AuthenticationFailed("Invalid or revoked API key.") from None
        if api_key.has_expired:
            raise AuthenticationFailed("API key has expired.")
        return AnonymousUser(), api_key

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD
