"""Avigilon Alta (the cloud VMS) as an alarm source: its client, its alarm action's webhook,
verify and end (reference/alta-alarms.txt)."""
