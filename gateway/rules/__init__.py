"""Automation rules: an event from the bus fires reactions (talkdown, PTZ preset, snapshot,
record, push, webhook, guest link); the named clips they play; the VMS scripts API over them."""
