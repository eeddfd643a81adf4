"""Amcrest events: the normalisation to CameraEvent, and AmcrestEventStream against the
emulator's eventManager (injected events, garbage and cut faults, reconnects)."""

from __future__ import annotations

import asyncio
import logging
import re
import time

import pytest
from yarl import URL

from gateway.backends.amcrest.cgi import AmcrestCgi
from gateway.backends.amcrest.event_parser import EventPart
from gateway.backends.amcrest.events import AmcrestEventStream, camera_event, event_type, utc_now
from gateway.backends.base import CameraEvent

CHANNEL = 2
ISO_MS_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


# -- normalisation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code, action, expected_type, state",
    [
        ("VideoMotion", "Start", "DEVICE_MOTION_START", "start"),
        ("VideoMotion", "Stop", "DEVICE_MOTION_STOP", "stop"),
        ("VideoMotion", "Pulse", "DEVICE_MOTION_START", "pulse"),
        ("CrossLineDetection", "Start", "DEVICE_ANALYTICS_START", "start"),
        ("CrossRegionDetection", "Stop", "DEVICE_ANALYTICS_STOP", "stop"),
        ("SmartMotionHuman", "Start", "DEVICE_ANALYTICS_START", "start"),
        ("SmartMotionVehicle", "Stop", "DEVICE_ANALYTICS_STOP", "stop"),
        ("FaceDetection", "Pulse", "DEVICE_ANALYTICS_START", "pulse"),
        ("LeftDetection", "Start", "DEVICE_ANALYTICS_START", "start"),
        ("AudioMutation", "Start", "AMCREST_AUDIOMUTATION", "start"),
        ("StorageLowSpace", "Pulse", "AMCREST_STORAGELOWSPACE", "pulse"),
        ("_DoTalkAction_", "Invite", "AMCREST__DOTALKACTION_", "pulse"),  # doorbell actions are moments
    ],
)
def test_types_and_states(code, action, expected_type, state):
    event = camera_event(
        EventPart(code, action, 0, None, f"Code={code};action={action};index=0"),
        "porch",
        "e1",
        "2024-03-26T09:56:39.701Z",
    )
    assert (event.type, event.state) == (expected_type, state)
    assert event_type(code, state) == expected_type


def test_event_shape():
    details = {"Object": {"ObjectType": "Human"}, "Name": "a;b=c"}
    part = EventPart("SmartMotionHuman", "Start", 1, details, "raw")
    event = camera_event(part, "porch", "e1", "2024-03-26T09:56:39.701Z")
    assert event == CameraEvent(
        id="e1",
        camera="porch",
        type="DEVICE_ANALYTICS_START",
        state="start",
        time="2024-03-26T09:56:39.701Z",
        source="amcrest",
        data={"code": "SmartMotionHuman", "action": "Start", "index": 1, "details": details},
    )
    plain = camera_event(EventPart("VideoMotion", "Stop", 1, None, "raw"), "porch", "e2", "t")
    assert plain.data == {"code": "VideoMotion", "action": "Stop", "index": 1}


def test_time_is_utc_with_milliseconds():
    assert ISO_MS_Z.match(utc_now())


# -- against the emulator ------------------------------------------------------------------------


@pytest.fixture
async def running(camera):
    """An AmcrestEventStream for the emulator's channel 2, running; yields (stream, published)."""
    where = URL(camera.http_url)
    cgi = AmcrestCgi(
        camera_id="porch",
        host=where.host,
        http_port=where.port,
        username=camera.settings.username,
        password=camera.settings.password,
        channel=CHANNEL,
    )
    await cgi.open()
    published: list[CameraEvent] = []
    stream = AmcrestEventStream(cgi, "porch", CHANNEL, published.append, heartbeat=1, initial_delay=0.05, max_delay=0.2)
    task = asyncio.create_task(stream.run())
    try:
        await until(lambda: stream.connected)
        yield stream, published
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await cgi.close()


async def until(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.01)


async def test_motion_start_then_stop(running, camera):
    stream, published = running
    camera.inject_event(CHANNEL, "VideoMotion", "Start")
    camera.inject_event(CHANNEL, "VideoMotion", "Stop")
    await until(lambda: len(published) == 2)
    assert [(e.type, e.state, e.camera, e.source) for e in published] == [
        ("DEVICE_MOTION_START", "start", "porch", "amcrest"),
        ("DEVICE_MOTION_STOP", "stop", "porch", "amcrest"),
    ]
    assert published[0].data == {"code": "VideoMotion", "action": "Start", "index": CHANNEL - 1}
    assert len({e.id for e in published}) == 2 and all(ISO_MS_Z.match(e.time) for e in published)
    assert stream.events == 2 and stream.connected


async def test_other_channels_are_ignored(running, camera):
    stream, published = running
    camera.inject_event(1, "VideoMotion", "Start")
    camera.inject_event(1, "CrossLineDetection", "Start", {"Name": "other"})
    camera.inject_event(CHANNEL, "CrossLineDetection", "Start", {"Name": "mine;x=y"})
    await until(lambda: len(published) == 1)
    await asyncio.sleep(0.1)
    assert len(published) == 1 and stream.ignored == 2
    assert published[0].type == "DEVICE_ANALYTICS_START"
    assert published[0].data["details"] == {"Name": "mine;x=y"}


@pytest.mark.parametrize(
    "fault, cause, line",
    [
        (
            "garbage",
            "bad_stream",
            (
                "camera 'porch' sent a malformed event stream: expected a boundary, got "
                "b'\\x00\\xffnot a multipart part'; reconnecting in "
            ),
        ),
        ("cut", "truncated", "camera 'porch': event stream ended inside a part: 29 of 37 body bytes; reconnecting in "),
    ],
)
async def test_fault_gives_one_warning_then_reconnects(running, camera, caplog, fault, cause, line):
    stream, published = running
    caplog.set_level(logging.INFO, logger="gateway.backends.amcrest")
    camera.event_fault(fault)
    await until(lambda: stream.reconnects[cause] == 1)
    await until(lambda: stream.connected)
    camera.inject_event(CHANNEL, "VideoMotion", "Start")
    await until(lambda: len(published) == 1)
    assert published[0].type == "DEVICE_MOTION_START"
    assert stream.reconnects == {cause: 1}
    warnings = [r for r in caplog.records if r.name == "gateway.backends.amcrest"]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING and warnings[0].exc_info is None
    assert warnings[0].getMessage().startswith(line) and "\n" not in warnings[0].getMessage()
    assert warnings[0].camera == "porch"


async def test_unreachable_camera_backs_off(caplog):
    caplog.set_level(logging.WARNING, logger="gateway.backends.amcrest")
    cgi = AmcrestCgi(
        camera_id="porch", host="127.0.0.1", http_port=9, username="admin", password="secret-pw-77", channel=1
    )
    await cgi.open()
    stream = AmcrestEventStream(cgi, "porch", 1, lambda event: None, initial_delay=0.02, max_delay=0.1)
    task = asyncio.create_task(stream.run())
    try:
        await until(lambda: stream.reconnects["connection"] >= 4)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await cgi.close()
    assert not stream.connected and stream.events == 0
    messages = [r.getMessage() for r in caplog.records]
    # Four failures, one line: the camera staying down is not news.
    assert len(messages) == 1, messages
    assert messages[0].startswith("camera 'porch' unreachable at 127.0.0.1:9: connection refused; reconnecting in")
    assert not any("secret-pw-77" in message for message in messages)


async def test_refused_credentials_are_tried_again_only_after_a_minute(camera, caplog):
    caplog.set_level(logging.WARNING, logger="gateway.backends.amcrest")
    where = URL(camera.http_url)
    cgi = AmcrestCgi(
        camera_id="porch",
        host=where.host,
        http_port=where.port,
        username=camera.settings.username,
        password="not-the-password",
        channel=CHANNEL,
    )
    await cgi.open()
    stream = AmcrestEventStream(cgi, "porch", CHANNEL, lambda event: None, initial_delay=0.02, max_delay=0.1)
    task = asyncio.create_task(stream.run())
    try:
        await until(lambda: stream.reconnects["auth"] == 1)
        await asyncio.sleep(1.0)  # ten times max_delay: an ordinary failure would have been retried
        assert stream.reconnects == {"auth": 1}
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await cgi.close()
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1 and "reconnecting in 60.0s" in messages[0] and "401" in messages[0], messages
