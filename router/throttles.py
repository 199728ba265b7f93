"""Per-key throttling: each API key (or staff user) gets ROUTER_THROTTLE_RATE requests.

DRF's SimpleRateThrottle keeps a list of every request's time within the window per key and reads,
trims and writes it back (pickled by the cache) on each request: up to the whole rate's worth of
timestamps, 6,000 at the default. This keeps one number per key instead (GCRA, the generic cell rate
algorithm): the time at which the key's allowance is next back to full. The same rate is enforced,
a full window's worth may still come in one burst, and Retry-After says when the next one is allowed.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView
from rest_framework_api_key.models import APIKey


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
        interval = self.duration / self.num_requests  # each request uses up this much time
        burst = self.duration - interval  # how far ahead of now the key may run: a full window at once
        now = self.timer()
        # The theoretical arrival time: when this key would be back to its full allowance.
        arrival = max(float(self.cache.get(key, now)), now)
        if arrival - now > burst:
            self._wait = arrival - now - burst
            return False
        self.cache.set(key, arrival + interval, timeout=int(arrival + interval - now) + 1)
        return True

    def wait(self) -> float | None:
        return self._wait
