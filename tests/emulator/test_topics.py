"""Topic filters: ALL, groups (a topic's first word) and topics, whitelist and blacklist."""

from gateway.emulator.topics import TOPICS, TopicFilter, matches, split_known


def test_an_entry_matches_all_its_group_or_itself():
    assert matches(["ALL"], "DEVICE_MOTION_START")
    assert matches(["DEVICE"], "DEVICE_MOTION_START")
    assert matches(["DEVICE_MOTION_START"], "DEVICE_MOTION_START")
    assert not matches(["DEVICE_MOTION_STOP", "ALARM", "DEV"], "DEVICE_MOTION_START")


def test_blacklist_excludes_what_a_whitelist_would_include():
    white, black = TopicFilter("whitelist", ("ALARM",)), TopicFilter("blacklist", ("ALARM",))
    for topic in ("ALARM_TRIGGERED", "DEVICE_MOTION_START", "USER_LOGIN"):
        assert white.admits(topic) != black.admits(topic)
    assert white.admits("ALARM_TRIGGERED") and black.admits("USER_LOGIN")


def test_groups_are_listed_as_their_topics():
    assert TopicFilter("whitelist", ("ALARM", "USER_LOGIN")).to_json() == {
        "whitelist": ["USER_LOGIN", "ALARM_TRIGGERED", "ALARM_CLAIMED", "ALARM_UNCLAIMED", "ALARM_ACKNOWLEDGED",
                      "ALARM_PURGED"]}  # fmt: skip
    assert TopicFilter("blacklist", ("ALL",)).listed_topics() == list(TOPICS)


def test_unknown_entries_are_rejected_once():
    assert split_known(["DEVICE", "NOPE", "DEVICE", "SERVER", "NOPE"]) == (["DEVICE", "SERVER"], ["NOPE"])
