"""The Amcrest emulator and a gateway in front of it (tests/backends/amcrest/conftest.py)."""

from tests.backends.amcrest.conftest import (  # noqa: F401
    amcrest,
    amcrest_cameras,
    amcrest_settings,
    gateway_config,
    porch_ready,
)
