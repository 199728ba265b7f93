"""Per-key throttling: each API key (or staff user) gets ROUTER_THROTTLE_RATE requests, counted with
GCRA (router.rate_limits) instead of DRF's list of every request's time in the window."""

from __future__ import annotations

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView
from rest_framework_api_key.models import APIKey

from router.rate_limits import Rate, gcra_take


class ApiKeyRateThrottle(SimpleRateThrottle):
    scope = "api_key"
    _wait: float | None = None
    # Set by SimpleRateThrottle.__init__ from the rate (None without one); untyped in the stubs.
    num_requests: int | None
    duration: int | None

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

    def allow_request(self, request: Request, view: APIView) -> bool:
        if self.rate is None or self.num_requests is None or self.duration is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        self._wait = gcra_take(key, Rate(count=self.num_requests, period=self.duration), now=self.timer())
        return self._wait is None

    def wait(self) -> float | None:
        return self._wait
