"""Per-key throttling: each API key (or staff user) gets ROUTER_THROTTLE_RATE requests, counted with
GCRA (router.rate_limits) instead of DRF's list of every request's time in the window."""

from __future__ import annotations

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView
from rest_framework_api_key.models import APIKey

from router.rate_limits import Rate, gcra_take


def api_key_throttle_take(api_key: APIKey, *, now: float | None = None) -> float | None:
    """Use one of the key's ROUTER_THROTTLE_RATE allowance: None when allowed, else the seconds to
    wait. ApiKeyRateThrottle and the lean front (router.lean) both take from it."""
    return ApiKeyRateThrottle.take(f"key:{api_key.prefix}", now=now)


class ApiKeyRateThrottle(SimpleRateThrottle):
    scope = "api_key"
    _wait: float | None = None

    def get_rate(self) -> str:
        # Read per request (not at import, as DRF's default does) so the environment and tests decide.
        return str(settings.ROUTER_THROTTLE_RATE)

    @classmethod
    def take(cls, ident: str, *, now: float | None = None) -> float | None:
        """Use one of `ident`'s allowance: None when allowed (or no rate is set), else the wait."""
        rate = settings.ROUTER_THROTTLE_RATE
        if not rate:
            return None
        return gcra_take(cls.cache_format % {"scope": cls.scope, "ident": ident}, Rate.parse(str(rate)), now=now)

    def allow_request(self, request: Request, view: APIView) -> bool:
        if isinstance(request.auth, APIKey):
            self._wait = api_key_throttle_take(request.auth, now=self.timer())
        elif request.user and request.user.is_authenticated:
            self._wait = self.take(f"user:{request.user.pk}", now=self.timer())
        else:
            return True  # unauthenticated requests were already refused with 401
        return self._wait is None

    def wait(self) -> float | None:
        return self._wait
