"""What a rule does when it fires: one coroutine per action kind, each ending in a one-line
outcome (`done`), `ActionSkipped` (nothing went wrong, but it did not happen: the speaker
was busy, an operator holds the PTZ) or `ActionFailed` (the reason, for the history).

Actions only go through the gateway's own services (the speaker queue, the camera
directory and its backends, the snapshot store, the push registry, the guest links), so a
rule does exactly what a person could do through the API, on any backend that can.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from gateway.api.errors import ApiError
from gateway.backends.base import Capability, UpstreamFailure
from gateway.events.model import Event, iso
from gateway.rules.model import Action
from gateway.rules.webhook_out import WebhookFailed, WebhookSender
from gateway.services import CAMERAS, CONFIG

if TYPE_CHECKING:
    from gateway.rules.model import RuleSpec

log = logging.getLogger("gateway.rules")

# The talkdown action waits for the speaker, then plays the clip: its own timeout grows by both.
TALKDOWN_MARGIN_S = 10.0
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


class ActionSkipped(Exception):
    """The action did not happen, and that is no fault (busy speaker, operator at the PTZ)."""


class ActionFailed(Exception):
    """The action could not be done; the message says why, in one line."""


@dataclass
class Firing:
    """One rule firing on one event, as its actions see it."""

    id: str
    rule_id: int
    spec: RuleSpec
    event: Event
    camera: str  # the event's camera: rules fire only on camera events
    # The guest link a share_link action makes, for the webhook to carry (None: no link).
    share_url: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class Reactions:
    """Runs actions against the app's services."""

    def __init__(self, app: web.Application, webhooks: WebhookSender):
        self._app = app
        self._webhooks = webhooks

    def timeout_of(self, action: Action, base: float) -> float:
        if action.kind == "talkdown":
            settings = self._app[CONFIG]
            return base + settings.rules.speaker_wait_s + settings.talkdown.max_file_seconds + TALKDOWN_MARGIN_S
        return base

    async def run(self, action: Action, firing: Firing) -> str:
        runner = getattr(self, f"_{action.kind}")
        try:
            return await runner(action.params, firing)
        except ApiError as exc:  # what the API would have answered a person
            raise ActionFailed(exc.message) from None
        except UpstreamFailure as exc:
            raise ActionFailed(f"the camera system refused: {exc}") from None

    async def _camera(self, firing: Firing, capability: Capability):
        directory = self._app[CAMERAS]
        camera = await directory.usable(firing.camera, capability)
        return camera, directory.backend_of(camera.id)

    # -- the actions ---------------------------------------------------------------------------

    async def _talkdown(self, params: dict, firing: Firing) -> str:
        from gateway.rules.clip_routes import CLIPS
        from gateway.talkdown.clip_playback import play_clip
        from gateway.talkdown.routes import TALK_SESSIONS

        clip = await self._app[CLIPS].resolve(params["clip"])
        if clip is None:
            raise ActionFailed(f"no clip {params['clip']!r}")
        pcmu = await self._app[CLIPS].pcmu(clip)
        try:
            outcome = await play_clip(
                self._app[TALK_SESSIONS], firing.camera, pcmu, self._app[CONFIG].rules.speaker_wait_s
            )
        except ValueError as exc:  # no speaker, or one that takes no G.711
            raise ActionFailed(str(exc)) from None
        if not outcome.played:
            raise ActionSkipped(outcome.reason)
        if outcome.reason != "played":
            raise ActionFailed(f"clip {clip.name!r}: {outcome.reason} after {outcome.seconds:.1f} s")
        waited = f" after waiting {outcome.waited:.1f} s" if outcome.waited >= 0.05 else ""
        return f"played clip {clip.name!r} ({outcome.seconds:.1f} s){waited}"

    async def _ptz_preset(self, params: dict, firing: Firing) -> str:
        from gateway.control.routes import CONTROL

        camera, backend = await self._camera(firing, Capability.PTZ)
        control = self._app[CONTROL]
        if control.shared is None:
            hold = control.locks.holder(camera.id)
        else:  # steered through any node
            from gateway.cluster.leases import ClusterUnavailable

            try:
                hold = await control.shared.holder(camera.id)
            except ClusterUnavailable:
                raise ActionSkipped("the cluster cannot tell whether a person steers the camera") from None
        if hold is not None:  # a person steering comes first
            raise ActionSkipped(f"{hold.operator.name} is steering the camera")
        number = params["preset"]
        known = [preset.number for preset in await backend.ptz_presets(camera.id)]
        if number not in known:
            raise ActionFailed(f"camera {camera.id!r} has no preset {number}")
        await backend.ptz_goto_preset(camera.id, number)
        return f"moved to preset {number}"

    async def _snapshot(self, params: dict, firing: Firing) -> str:
        from gateway.snapshots.request import parse_snapshot
        from gateway.snapshots.routes import SNAPSHOTS

        camera = await self._app[CAMERAS].usable(firing.camera, Capability.SNAPSHOT)
        # The event's own instant where the camera system keeps pictures, else the live one.
        at = firing.event.time if camera.can(Capability.SNAPSHOT_AT) else "live"
        image = await self._app[SNAPSHOTS].snapshot(parse_snapshot(camera.id, [("t", at)]))
        folder = Path(self._app[CONFIG].rules.snapshots_dir) / _UNSAFE.sub("_", camera.id)
        stamp = datetime.fromtimestamp(firing.event.at, UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        path = folder / f"{stamp}-rule{firing.rule_id}-{firing.id}.jpg"
        await asyncio.to_thread(_write_atomically, path, image.body)
        return f"archived {len(image.body)} bytes to {path}"

    async def _record(self, params: dict, firing: Firing) -> str:
        camera, backend = await self._camera(firing, Capability.RECORDED)
        # The camera system stops it itself after `seconds` (WEP maxDurationSec): a restart
        # of the gateway in between changes nothing.
        await backend.record(camera.id, True, params["seconds"])
        return f"recording on the camera system for {params['seconds']} s"

    async def _push(self, params: dict, firing: Firing) -> str:
        from gateway.rtmp.registry import TooManyPushes
        from gateway.rtmp.routes import PUSHES
        from gateway.rtmp.url import redact_url

        camera, _ = await self._app[CAMERAS].quality(firing.camera, params["quality"])
        try:
            ctx = await self._app[PUSHES].create(
                camera.id, params["url"], params["quality"], params["media"], "gateway", params["seconds"]
            )
        except TooManyPushes as exc:
            raise ActionFailed(str(exc)) from None
        return f"push {ctx.spec.id} to {redact_url(params['url'])} for {params['seconds']} s"

    async def _share_link(self, params: dict, firing: Firing) -> str:
        from gateway.links.book import FUTURE_LEEWAY
        from gateway.links.routes import LINKS

        config = self._app[CONFIG]
        ttl = params["ttl"] or config.links.default_ttl
        ttl = min(ttl, config.links.max_ttl)
        window = None
        if not params["live"]:
            # From just before the event to a while after it: the end may lie ahead (the
            # recording is still being made, and plays in real time), as far as a link allows.
            at = datetime.fromtimestamp(firing.event.at, UTC)
            end = min(
                at + timedelta(seconds=config.links.clip_post_s),
                datetime.now(UTC) + timedelta(seconds=FUTURE_LEEWAY - 5),
            )
            window = (at - timedelta(seconds=config.events.clip_pre_s), max(end, at + timedelta(seconds=1)))
        # A failure leaves the URL to the engine, which settles it (None) as the action ends.
        link = await self._app[LINKS].create(
            firing.camera, live=params["live"], window=window, ttl=ttl, created_by=f"rule:{firing.rule_id}"
        )
        if not firing.share_url.done():
            firing.share_url.set_result(link.url)
        shown = "live" if params["live"] else f"{iso(window[0])} to {iso(window[1])}"  # type: ignore[index]
        return f"guest link {link.ref} ({shown}) for {ttl} s"

    async def _webhook(self, params: dict, firing: Firing) -> str:
        # Carries the guest link when the rule makes one: waits for it (bounded by this
        # action's own timeout).
        share = None
        if any(action.kind == "share_link" for action in firing.spec.actions):
            share = await firing.share_url
        payload = {
            "firing": firing.id,
            "rule": {"id": firing.rule_id, "name": firing.spec.name},
            "event": firing.event.public(),
            "links": {**firing.event.links, "guest": share},
            "time": iso(datetime.now(UTC)),
        }
        try:
            return await self._webhooks.send(params["url"], params["secret"], payload)
        except WebhookFailed as exc:
            raise ActionFailed(str(exc)) from None


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.{time.monotonic_ns()}.part")
    with open(temporary, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
