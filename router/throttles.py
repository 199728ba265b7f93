"""Per-key throttling: each API key (or staff user) gets ROUTER_THROTTLE_RATE requests."""

from __future__ import annotations

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView
from rest_framework_api_key.models import APIKey


class ApiKeyRateThrottle(SimpleRateThrottle):
    scope = "api_key"

    def get_rate(self) -> str:
        # Read per request (not at import, as DRF's default does) so the environment and tests decide.
        return str(settings.ROUTER_THROTTLE_RATE)

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if isinstance(request.auth, APIKey):
            ident = f"key:{request.auth.prefix}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            return None  # unauthenticated requests were already refused with 401
        return self.cache_format % {"scope": self.scope, "ident": ident}
