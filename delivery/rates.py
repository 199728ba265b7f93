"""Provider rates: how a `<CHANNEL>_RATE_LIMIT` (or a test peer's cap) is written and read.

`20/s`, `1200/min`, `0.5/s`, `72000/h`; an empty value means no limit. A value that does not parse
raises ValueError naming what was wrong, so a worker refuses to start instead of running unlimited.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|sec|second|m|min|minute|h|hour)\s*$", re.IGNORECASE)
_PERIOD_SECONDS = {"s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0}
_PERIOD_SECONDS |= {"h": 3600.0, "hour": 3600.0}


@dataclass(frozen=True)
class Rate:
    """A number of provider calls (SMS/WhatsApp: segments) per second."""

    per_second: float

    def __post_init__(self) -> None:
        if not self.per_second > 0:
            raise ValueError(f"a rate must be above zero, not {self.per_second}")

    @classmethod
    def parse(cls, text: str) -> Rate | None:
        """`20/s`, `1200/min`, `3600/h` → a Rate; '' or whitespace → None (no limit)."""
        if not text or not text.strip():
            return None
        match = _RATE.match(text)
        if not match:
            raise ValueError(f"not a rate: {text!r} (write e.g. 20/s, 1200/min or 3600/h)")
        count = float(match.group(1))
        if count <= 0:
            raise ValueError(f"a rate must be above zero: {text!r}")
        return cls(per_second=count / _PERIOD_SECONDS[match.group(2).lower()])

    @property
    def interval(self) -> float:
        """Seconds between two calls at this rate."""
        return 1.0 / self.per_second

    def __str__(self) -> str:
        return f"{self.per_second:g}/s"


def rates_per_provider(text: str, providers: list[str]) -> dict[str, Rate]:
    """A `<CHANNEL>_RATE_LIMIT` for a channel's providers, in their order: one rate each (separated by
    whitespace or commas), or one rate that each of them gets; empty: no limit. Each provider has its
    own limit (its own bucket), as each provider has its own contract."""
    rates = [rate for part in text.replace(",", " ").split() if (rate := Rate.parse(part)) is not None]
    if not rates:
        return {}
    if len(rates) == 1:
        return dict.fromkeys(providers, rates[0])
    if len(rates) != len(providers):
        raise ValueError(
            f"{len(rates)} rates for {len(providers)} providers ({', '.join(providers)}): "
            "give one rate, or one per provider in their order"
        )
    return dict(zip(providers, rates, strict=True))
