"""Event topics and the whitelist/blacklist filter (guide, "Filtering Event Notifications").

An entry names ALL, one topic (DEVICE_MOTION_START) or a group: "events are organized into
groups so you can request a collection of events at a time"; a topic's group is its first
word (DEVICE, ALARM, USER, SERVER). Sans-IO.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

ALL = "ALL"
GROUPS = ("DEVICE", "ALARM", "USER", "SERVER")
# Every topic the emulator raises; other UPPER_SNAKE types may be injected and still match
# by group or ALL, but a webhook cannot subscribe to them by name.
TOPICS = (
    "DEVICE_MOTION_START",
    "DEVICE_MOTION_STOP",
    "DEVICE_ANALYTICS_START",
    "DEVICE_ANALYTICS_STOP",
    "DEVICE_DIGITAL_INPUT_ON",
    "DEVICE_DIGITAL_INPUT_OFF",
    "DEVICE_RECORDING_STARTED",
    "DEVICE_RECORDING_STOPPED",
    "USER_LOGIN",
    "ALARM_TRIGGERED",
    "ALARM_CLAIMED",
    "ALARM_UNCLAIMED",
    "ALARM_ACKNOWLEDGED",
    "ALARM_PURGED",
)
KNOWN = frozenset((ALL, *GROUPS, *TOPICS))
FILTER_MODES = ("whitelist", "blacklist")


def group_of(topic: str) -> str:
    return topic.split("_", 1)[0]


def matches(entries: Iterable[str], topic: str) -> bool:
    """True when any entry is ALL, the topic itself or the topic's group."""
    group = group_of(topic)
    return any(entry in (ALL, topic, group) for entry in entries)


def split_known(entries: Iterable[str]) -> tuple[list[str], list[str]]:
    """(accepted, rejected): guide, "Creating a Webhook": the answer says which were which."""
    accepted: list[str] = []
    rejected: list[str] = []
    for entry in entries:
        target = accepted if entry in KNOWN else rejected
        if entry not in target:
            target.append(entry)
    return accepted, rejected


@dataclass(frozen=True, slots=True)
class TopicFilter:
    mode: str  # "whitelist" | "blacklist"
    entries: tuple[str, ...]

    def admits(self, topic: str) -> bool:
        hit = matches(self.entries, topic)
        return hit if self.mode == "whitelist" else not hit

    def listed_topics(self) -> list[str]:
        """Guide, "Getting a Webhook": "returns the event topics as a list, not as event
        groups", so ALL and groups are shown as the topics they stand for."""
        return [topic for topic in TOPICS if matches(self.entries, topic)]

    def to_json(self) -> dict:
        return {self.mode: self.listed_topics()}
