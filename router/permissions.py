"""Who may call the API: holders of a valid API key, or staff signed in to the browsable API."""

from __future__ import annotations

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView
from rest_framework_api_key.models import APIKey

from router.domain import Client


class HasApiKeyOrIsStaff(BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        return isinstance(request.auth, APIKey) or bool(request.user and request.user.is_staff)


def key_client(api_key: APIKey) -> Client:
    return Client(id=f"key:{api_key.prefix}")


def client_of(request: Request) -> Client:
    """The caller of an authenticated request (see HasApiKeyOrIsStaff)."""
    if isinstance(request.auth, APIKey):
        return key_client(request.auth)
    return Client(id=f"user:{request.user.pk}", is_staff=bool(request.user.is_staff))
