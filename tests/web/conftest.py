"""The events fixtures (a gateway whose WEP webhook is registered on the emulator) for the
Events panel's tests."""

from tests.events.conftest import events_config, events_gateway, http  # noqa: F401
