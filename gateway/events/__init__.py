"""Events and alarms: WEP's webhook and event search, the backends' event streams, one bus
with a bounded ring, Server-Sent Events out, and the alarm book with its audit log."""
