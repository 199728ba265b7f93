"""A message's priority: which lane (send topic) it travels on to its channel's worker."""

from enum import StrEnum


class Priority(StrEnum):
    HIGH = "high"
    NORMAL = "normal"  # the channel's original `send.<channel>` topic
    LOW = "low"
