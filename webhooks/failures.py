"""What a failed webhook post is: sorted into a kind before anything is decided about it.

Transient — the receiver may take it later: a timeout, a connection error, 408, 429 and any 5xx. The job
goes to the next retry level, no sooner than the receiver's `Retry-After` asks (seconds or an HTTP date).
Permanent — asking again gets the same answer: any other 4xx, a 3xx (redirects are never followed: the
target was not checked, webhooks.addresses), an address we refuse to call, a URL that cannot be posted,
or an endpoint that is disabled. The job is dead-lettered at once, after its one attempt.

Pure functions of the response or the exception: the pipeline (webhooks.pipeline) asks, and one place,
its outcome step, acts on the answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import requests
from requests_hardened.ip_filter import InvalidIPAddress

from delivery.retry_after import retry_after_seconds
from delivery.retry_policy import RetryPolicy

# Statuses outside 5xx that say "not now" rather than "no" (RFC 9110: Request Timeout, Too Many Requests).
RETRIED_4XX = frozenset({408, 429})
# Exceptions that say the request can never be made as it is: retrying cannot help.
UNSENDABLE = (
    InvalidIPAddress,
    requests.exceptions.InvalidURL,
    requests.exceptions.InvalidSchema,
    requests.exceptions.MissingSchema,
)


class FailureKind(StrEnum):
    TRANSIENT = "transient"
    PERMANENT = "permanent"


@dataclass(frozen=True)
class PostFailure:
    """Why a post did not get a 2xx. `reason` is what operators read (DLQ headers, the log event, the
    admin); `retry_after` is the receiver's own wish in seconds, None when it said nothing usable."""

    kind: FailureKind
    reason: str
    error_type: str = "WebhookDeliveryFailed"
    retry_after: float | None = None

    @property
    def permanent(self) -> bool:
        return self.kind is FailureKind.PERMANENT


def failure_of_response(response: requests.Response, *, now: datetime | None = None) -> PostFailure | None:
    """None for a 2xx; else the failure the status stands for."""
    status = response.status_code
    if 200 <= status < 300:
        return None
    if status >= 500 or status in RETRIED_4XX:
        retry_after = retry_after_seconds(response.headers.get("Retry-After"), now=now)
        return PostFailure(FailureKind.TRANSIENT, f"HTTP {status}", retry_after=retry_after)
    if 300 <= status < 400:
        location = response.headers.get("Location", "")
        return PostFailure(
            FailureKind.PERMANENT,
            f"HTTP {status}: a redirect{f' to {location}' if location else ''}, never followed",
            error_type="WebhookRejected",
        )
    return PostFailure(FailureKind.PERMANENT, f"HTTP {status}: refused by the receiver", error_type="WebhookRejected")


def failure_of_exception(error: requests.RequestException) -> PostFailure:
    """A post that got no answer: permanent when it could never be made, else transient (timeouts,
    refused or reset connections, names that do not resolve right now)."""
    reason = f"{type(error).__name__}: {error}"
    if isinstance(error, InvalidIPAddress):
        return PostFailure(FailureKind.PERMANENT, f"{reason} (a refused address)", error_type="WebhookAddressRefused")
    if isinstance(error, UNSENDABLE):
        return PostFailure(FailureKind.PERMANENT, reason, error_type="WebhookAddressRefused")
    return PostFailure(FailureKind.TRANSIENT, reason)


def endpoint_disabled_failure(disabled_reason: str) -> PostFailure:
    """A job for an endpoint that is disabled: not posted, dead-lettered (the DLQ record keeps the job as it was)."""
    return PostFailure(
        FailureKind.PERMANENT, f"endpoint disabled ({disabled_reason})", error_type="WebhookEndpointDisabled"
    )


def retry_delay(failure: PostFailure, *, policy: RetryPolicy, attempt: int) -> float:
    """Seconds before the retry of a transient failure of `attempt`: the policy's delay, or longer
    when the receiver's `Retry-After` asks for it — bounded by the policy's longest delay, the furthest
    the retry levels' due gate holds a record (a receiver cannot park a job for a day)."""
    delay = policy.delay(attempt)
    if failure.retry_after is None:
        return delay
    return max(delay, min(failure.retry_after, policy.longest_delay))
