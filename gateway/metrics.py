"""`GET /metrics`: Prometheus text format, read from the plain counters the modules keep.

Nothing on a hot path calls prometheus-client: the collector walks the running objects
at scrape time (mediamtx's internal/metrics does the same). Labels are camera, quality,
protocol, route, cause, state: never a viewer, a token or a session id.

Sources, muxers and pushes come and go; what a gone one had counted is kept (`Totals`),
so a counter summed over them never goes down between scrapes. What it counted after
the last scrape before it went is lost: a small undercount, never a fake reset.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from itertools import accumulate

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, SummaryMetricFamily
from prometheus_client.registry import Collector

from gateway.delay_histogram import DelayHistogram
from gateway.services import CAMERAS, SOURCES, WEP

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Bucket bounds (seconds) for delays held in gateway.delay_histogram.DelayHistogram (0.1 ms steps).
DELAY_BOUNDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0)
DELAY_STEP = 0.0001

Labels = tuple[str, ...]


class Totals:
    """Per-label sums of counters over objects that come and go, never decreasing."""

    def __init__(self) -> None:
        self._live: dict[int, tuple[object, Labels, dict[str, int]]] = {}
        self._retired: Counter[tuple[str, Labels]] = Counter()

    def sums(self, items: Iterable[tuple[object, Labels, dict[str, int]]]) -> Counter[tuple[str, Labels]]:
        live: dict[int, tuple[object, Labels, dict[str, int]]] = {}
        for obj, labels, values in items:
            live[id(obj)] = (obj, labels, values)  # holding obj keeps its id from being reused
        for key, (_, labels, values) in self._live.items():
            if key not in live:
                for name, value in values.items():
                    self._retired[name, labels] += value
        self._live = live
        sums = Counter(self._retired)
        for _, labels, values in live.values():
            for name, value in values.items():
                sums[name, labels] += value
        return sums


def _counter(name: str, doc: str, labels: list[str], sums: Counter, key: str) -> CounterMetricFamily:
    family = CounterMetricFamily(name, doc, labels=labels)
    for (field, values), value in sorted(sums.items()):
        if field == key:
            family.add_metric(list(values), value)
    return family


def delay_histogram(
    name: str, doc: str, labels: list[str], series: Iterable[tuple[Labels, DelayHistogram]]
) -> HistogramMetricFamily:
    """DelayHistogram objects (counts per 0.1 ms, the last one holding everything slower) as
    a Prometheus histogram; the sum is estimated from bucket middles."""
    family = HistogramMetricFamily(name, doc, labels=labels)
    for values, histogram in series:
        counts = histogram.counts
        cumulative = list(accumulate(counts[:-1]))
        buckets = [
            (str(bound), cumulative[min(round(bound / DELAY_STEP), len(cumulative)) - 1]) for bound in DELAY_BOUNDS
        ]
        buckets.append(("+Inf", histogram.total))
        estimate = sum(count * (index + 0.5) * DELAY_STEP for index, count in enumerate(counts) if count)
        family.add_metric(list(values), buckets, estimate)
    return family


class GatewayCollector(Collector):
    def __init__(self, app: web.Application, viewers: Callable[[], dict[tuple[str, str], int]]):
        self._app = app
        self._viewers = viewers
        self._sources = Totals()
        self._audio = Totals()
        self._muxers = Totals()
        self._recordings = Totals()
        self._pushes = Totals()

    def collect(self) -> Iterator:
        yield from self._viewer_families()
        yield from self._source_families()
        yield from self._hls_families()
        yield from self._recording_families()
        yield from self._snapshot_families()
        yield from self._webrtc_families()
        yield from self._talk_families()
        yield from self._push_families()
        yield from self._wep_families()
        yield from self._camera_families()
        yield from self._event_families()
        yield from self._control_families()
        yield from self._rule_families()
        yield from self._alta_families()
        yield from self._cluster_families()

    def _service(self, module: str, key: str):
        """The app's service under `module.key`, or None when that module is not wired."""
        import importlib

        app_key = getattr(importlib.import_module(module), key)
        return self._app.get(app_key)

    # -- viewers and answers --------------------------------------------------------------
    def _viewer_families(self) -> Iterator:
        from gateway.limits.middleware import LEDGER, TRAFFIC

        viewers = GaugeMetricFamily(
            "wepgw_viewers",
            "Current viewers (HLS players, live streams, WebRTC viewers, talkers)",
            labels=["camera", "protocol"],
        )
        for (camera, protocol), count in sorted(self._viewers().items()):
            viewers.add_metric([camera, protocol], count)
        yield viewers
        ledger = self._app[LEDGER]
        for name, counts, doc in (
            ("wepgw_viewers_admitted", ledger.admitted, "Viewers admitted"),
            ("wepgw_viewers_refused", ledger.refused, "Viewers refused over a limit (503)"),
        ):
            family = CounterMetricFamily(name, doc, labels=["protocol"])
            for protocol, count in sorted(counts.items()):
                family.add_metric([protocol], count)
            yield family
        traffic = self._app[TRAFFIC]
        out = CounterMetricFamily(
            "wepgw_bytes_out",
            "Body bytes of successful answers, counted when the answer ends (WebRTC: see wepgw_webrtc_bytes_sent)",
            labels=["camera", "protocol"],
        )
        for (camera, protocol), count in sorted(traffic.bytes_out.items()):
            out.add_metric([camera, protocol], count)
        yield out
        timeouts = CounterMetricFamily(
            "wepgw_request_timeouts", "Requests answered 503 at [limits] request_timeout", labels=["protocol"]
        )
        for protocol, count in sorted(traffic.timeouts.items()):
            timeouts.add_metric([protocol], count)
        yield timeouts
        yield CounterMetricFamily(
            "wepgw_request_too_large", "Requests refused 413 for their declared body size", value=traffic.too_large
        )

    # -- upstream pulls and hubs ----------------------------------------------------------
    def _source_families(self) -> Iterator:
        registry = self._app.get(SOURCES)
        running = registry.running() if registry is not None else []
        up = GaugeMetricFamily(
            "wepgw_upstream_up", "1 while the upstream pull is connected", labels=["camera", "quality"]
        )
        readers = GaugeMetricFamily(
            "wepgw_hub_readers", "Current hub readers (viewers, muxers, pushes)", labels=["camera", "quality"]
        )
        items = []
        for source in running:
            labels = (source.camera_id, source.quality)
            up.add_metric(list(labels), 1 if source.connected else 0)
            readers.add_metric(list(labels), source.hub.reader_count)
            hub, counters = source.hub.counters, source.counters
            values = {
                "connections": counters.connections,
                "bytes_in": counters.bytes_in,
                "frames_published": hub.frames_published,
                "bytes_published": hub.bytes_published,
                "frames_dropped": hub.frames_dropped,
                "gops_dropped": hub.gops_dropped,
                "readers_total": hub.readers_total,
            }
            values.update({f"reconnects:{cause}": n for cause, n in counters.reconnects.items()})
            items.append((source, labels, values))
        sums = self._sources.sums(items)
        yield up
        yield readers
        names = ["camera", "quality"]
        yield _counter("wepgw_upstream_connections", "Upstream media connections opened", names, sums, "connections")
        yield _counter("wepgw_upstream_bytes", "Media bytes read from WEP", names, sums, "bytes_in")
        yield _counter("wepgw_hub_frames_published", "Frames published into hubs", names, sums, "frames_published")
        yield _counter("wepgw_hub_bytes_published", "Sample bytes published into hubs", names, sums, "bytes_published")
        yield _counter("wepgw_hub_frames_dropped", "Frames dropped for slow readers", names, sums, "frames_dropped")
        yield _counter("wepgw_hub_gops_dropped", "GOPs cut short for slow readers", names, sums, "gops_dropped")
        yield _counter("wepgw_hub_readers_added", "Hub readers ever subscribed", names, sums, "readers_total")
        audio_items = [
            (
                audio,
                (audio.camera_id,),
                {**{f"reconnects:{c}": n for c, n in audio.reconnects.items()}, "frames_out": audio.frames_out},
            )
            for audio in (registry.audio_pulls() if registry is not None else [])
        ]
        audio_sums = self._audio.sums(audio_items)
        reconnects = CounterMetricFamily(
            "wepgw_upstream_reconnects",
            "Upstream reconnects by cause: upstream_<status> "
            "for a status the upstream sent, else what happened (connection_closed, "
            "timeout, refused, stall...)",
            labels=["camera", "quality", "cause"],
        )
        for (field, label_values), count in sorted(sums.items()):
            if field.startswith("reconnects:"):
                reconnects.add_metric([*label_values, field.partition(":")[2]], count)
        for (field, label_values), count in sorted(audio_sums.items()):
            if field.startswith("reconnects:"):
                reconnects.add_metric([label_values[0], "audio", field.partition(":")[2]], count)
        yield reconnects
        yield _counter(
            "wepgw_audio_frames", "AAC frames published from camera audio", ["camera"], audio_sums, "frames_out"
        )

    # -- HLS ----------------------------------------------------------------------------------
    def _hls_families(self) -> Iterator:
        muxers = self._service("gateway.hls.routes", "HLS_MUXERS")
        running = muxers.running() if muxers is not None else []
        names = (
            "playlist_requests",
            "blocking_timeouts",
            "parts_served",
            "segments_served",
            "bytes_served",
            "not_found",
            "discontinuities",
            "fast_path_answers",
        )
        # The segmenter's: segments cut short to keep the target duration (a GOP longer than it),
        # and frames WEP sent again after a reconnect that were skipped.
        segmenter_names = ("segments_cut", "frames_replayed")
        sums = self._muxers.sums(
            (
                muxer,
                (muxer.camera_id, muxer.quality),
                {
                    **{name: getattr(muxer.counters, name) for name in names},
                    **{name: getattr(muxer.segmenter, name) for name in segmenter_names},
                },
            )
            for muxer in running
        )
        yield GaugeMetricFamily("wepgw_hls_muxers", "Running HLS muxers", value=len(running))
        labels = ["camera", "quality"]
        for name in (*names, *segmenter_names):
            yield _counter(f"wepgw_hls_{name}", f"HLS {name.replace('_', ' ')}", labels, sums, name)
        histograms = [((muxer.camera_id, muxer.quality), muxer.counters.part_delivery_delay) for muxer in running]
        yield delay_histogram(
            "wepgw_hls_part_delivery_delay_seconds",
            "From a part's completion to the answer of a request that waited for it",
            labels,
            histograms,
        )

    def _recording_families(self) -> Iterator:
        recordings = self._service("gateway.hls.recorded", "RECORDINGS")
        running = recordings.running() if recordings is not None else []
        names = ("connections", "reconnects", "bytes_in", "segments", "segments_served", "bytes_served")
        sums = self._recordings.sums(
            (
                recording,
                (recording.camera_id, recording.quality),
                {name: getattr(recording.counters, name) for name in names},
            )
            for recording in running
        )
        yield GaugeMetricFamily("wepgw_hls_recordings", "Open recorded-video (?t=) HLS playlists", value=len(running))
        held = GaugeMetricFamily(
            "wepgw_hls_recording_bytes_held", "Segment bytes held by open recordings", labels=["camera", "quality"]
        )
        for recording in running:
            held.add_metric([recording.camera_id, recording.quality], recording.counters.bytes_held)
        yield held
        for name in names:
            yield _counter(
                f"wepgw_hls_recording_{name}",
                f"Recorded HLS {name.replace('_', ' ')}",
                ["camera", "quality"],
                sums,
                name,
            )

    # -- snapshots ------------------------------------------------------------------------------
    def _snapshot_families(self) -> Iterator:
        store = self._service("gateway.snapshots.routes", "SNAPSHOTS")
        if store is None:
            return
        stats = store.stats
        for name, doc in (
            ("hits", "Snapshots answered from the cache"),
            ("misses", "Snapshots not in the cache"),
            ("coalesced", "Misses that joined a fetch under way"),
            ("upstream_fetches", "Snapshot requests sent to WEP"),
            ("upstream_errors", "Snapshot requests WEP failed"),
            ("local_crops", "ROI crops cut from a cached frame"),
            ("bytes_served", "JPEG bytes answered"),
            ("fast_path_answers", "Cache hits answered below aiohttp's request machinery"),
        ):
            yield CounterMetricFamily(f"wepgw_snapshot_{name}", doc, value=getattr(stats, name))
        yield GaugeMetricFamily(
            "wepgw_snapshot_cache_bytes", "Bytes held by the snapshot cache", value=store.cache.bytes
        )
        yield CounterMetricFamily(
            "wepgw_snapshot_cache_evictions", "Snapshots evicted for space", value=store.cache.evictions
        )

    # -- WebRTC viewers and talkers ------------------------------------------------------------
    def _webrtc_families(self) -> Iterator:
        sessions = self._service("gateway.webrtc.routes", "WHEP_SESSIONS")
        if sessions is None:
            return
        counters = sessions.counters
        yield GaugeMetricFamily("wepgw_webrtc_sessions", "Current WHEP sessions", value=len(sessions))
        for name in (
            "sessions_started",
            "connect_timeouts",
            "connection_failures",
            "offers_rejected",
            "frames_sent",
            "bytes_sent",
            "video_packets_sent",
            "video_retransmissions",
            "video_packets_dropped",
            "keyframe_requests",
            "frames_skipped",
            "audio_sessions",
            "audio_packets_sent",
            "audio_bytes_sent",
            "audio_packets_skipped",
        ):
            yield CounterMetricFamily(
                f"wepgw_webrtc_{name}", f"WebRTC {name.replace('_', ' ')}", value=getattr(counters, name)
            )
        yield delay_histogram(
            "wepgw_webrtc_send_delay_seconds",
            "From a frame's arrival in the hub to its RTP send",
            [],
            [((), counters.send_delay)],
        )

    def _talk_families(self) -> Iterator:
        try:
            sessions = self._service("gateway.talkdown.routes", "TALK_SESSIONS")
        except ImportError:
            return
        if sessions is None:
            return
        counters = sessions.counters
        yield GaugeMetricFamily(
            "wepgw_talk_sessions", "Current talk sessions (microphones, files and rule clips)", value=len(sessions)
        )
        for name in (
            "sessions_started",
            "refused_no_speaker",
            "refused_busy",
            "preempted",
            "clip_skipped",
            "bytes_sent",
            "post_failures",
            "bytes_dropped",
            "rtp_packets",
            "rtp_late",
            "rtp_rejected",
        ):
            yield CounterMetricFamily(
                f"wepgw_talk_{name}", f"Talkdown {name.replace('_', ' ')}", value=getattr(counters, name)
            )

    # -- pushes -------------------------------------------------------------------------------------
    def _push_families(self) -> Iterator:
        from gateway.rtmp.state import PushState

        registry = self._service("gateway.rtmp.routes", "PUSHES")
        pushes = registry.all() if registry is not None else []
        states = Counter(ctx.status.state.value for ctx in pushes)
        family = GaugeMetricFamily("wepgw_pushes", "RTMP pushes by state", labels=["state"])
        for state in PushState:
            family.add_metric([state.value], states[state.value])
        yield family
        sums = self._pushes.sums(
            (ctx, (ctx.spec.camera, ctx.spec.mode), {"bytes": ctx.status.bytes_sent}) for ctx in pushes
        )
        yield _counter(
            "wepgw_push_bytes_sent", "FLV bytes sent by gateway-mode pushes", ["camera", "mode"], sums, "bytes"
        )

    # -- the cluster ----------------------------------------------------------------------------------
    def _cluster_families(self) -> Iterator:
        node = self._service("gateway.services", "CLUSTER")
        if node is None:
            return
        yield GaugeMetricFamily("wepgw_cluster_redis_up", "1 while Redis answers this node", value=int(node.available))
        leases = GaugeMetricFamily("wepgw_cluster_leases", "Leases this node holds, by kind", labels=["kind"])
        held = Counter(name.split(":", 1)[0] for name in node.leases.held_names())
        for kind in ("camera", "push", "talk"):
            leases.add_metric([kind], held[kind])
        yield leases
        yield CounterMetricFamily(
            "wepgw_cluster_redis_errors", "Redis commands and beats that failed", value=node.counters.redis_errors
        )
        messages = CounterMetricFamily(
            "wepgw_cluster_messages", "Messages received on the cluster channel, by kind", labels=["kind"]
        )
        for kind, count in sorted(node.counters.messages.items()):
            messages.add_metric([kind], count)
        yield messages
        layer = self._service("gateway.events.service", "EVENTS")
        if layer is not None and layer.relay is not None:
            relayed = CounterMetricFamily(
                "wepgw_cluster_events",
                "Events one node alone heard, relayed: sent, received, dropped (Redis away), unreadable",
                labels=["outcome"],
            )
            for outcome in ("sent", "received", "dropped", "unreadable"):
                relayed.add_metric([outcome], layer.relay.stats[outcome])
            yield relayed

    # -- cameras of every backend ----------------------------------------------------------------------
    # -- camera control ----------------------------------------------------------------------------
    def _control_families(self) -> Iterator:
        control = self._service("gateway.control.routes", "CONTROL")
        if control is None:
            return
        for name, doc in (
            ("commands", "PTZ commands received"),
            ("upstream_calls", "PTZ calls sent upstream (commands coalesce: one in flight per camera)"),
            ("coalesced", "PTZ commands replaced by a newer one before they were sent"),
            ("dead_man_stops", "Moves stopped because no command came for 1 s"),
            ("failures", "PTZ calls the camera system refused or failed"),
        ):
            family = CounterMetricFamily(f"wepgw_ptz_{name}", doc, labels=["camera"])
            for camera_id, driver in sorted(control.drivers.items()):
                family.add_metric([camera_id], getattr(driver.stats, name))
            yield family
        yield CounterMetricFamily(
            "wepgw_ptz_stale", "PTZ commands older than one already taken (by seq): not sent", value=control.stale
        )

    # -- Avigilon Alta -------------------------------------------------------------------------------
    def _alta_families(self) -> Iterator:
        layer = self._service("gateway.events.service", "EVENTS")
        if layer is None or layer.alta is None:
            return
        webhook = CounterMetricFamily(
            "wepgw_alta_webhook",
            "Alta alarm-action webhooks and their lookups, by outcome (webhooks, overflow, "
            "bad_payloads, alarms, merged, found_late, no_alert, unknown_zone, lookup_failed, no_links, unreadable)",
            labels=["outcome"],
        )
        for outcome, count in sorted(layer.alta.stats.items()):
            webhook.add_metric([outcome], count)
        yield webhook
        client = CounterMetricFamily(
            "wepgw_alta_client", "Alta API client: logins, relogins, login_failures, calls, failures", labels=["what"]
        )
        for what, count in sorted(layer.alta.client_stats.items()):
            client.add_metric([what], count)
        yield client

    # -- automation rules --------------------------------------------------------------------------
    def _rule_families(self) -> Iterator:
        engine = self._service("gateway.rules.routes", "RULES")
        if engine is None:
            return
        stats = engine.stats
        yield GaugeMetricFamily("wepgw_rules", "Rules, enabled or not", value=len(engine.all()))
        yield CounterMetricFamily("wepgw_rules_events", "Events the rules engine looked at", value=stats.events)
        yield CounterMetricFamily(
            "wepgw_rules_events_matched", "Events that named at least one rule", value=stats.matched
        )
        ignored = CounterMetricFamily(
            "wepgw_rules_events_ignored",
            "Events no rule may fire on, by cause (own firings, no camera, too old)",
            labels=["cause"],
        )
        for cause, count in sorted(stats.ignored.items()):
            ignored.add_metric([cause], count)
        yield ignored
        yield CounterMetricFamily("wepgw_rules_firings", "Rule firings", value=stats.firings)
        skipped = CounterMetricFamily(
            "wepgw_rules_skipped",
            "Matching rules that did not fire, by cause (schedule, cooldown, overloaded)",
            labels=["cause"],
        )
        for cause, count in sorted(stats.skipped.items()):
            skipped.add_metric([cause], count)
        yield skipped
        actions = CounterMetricFamily(
            "wepgw_rules_actions", "Actions run by firings, by kind and outcome", labels=["action", "outcome"]
        )
        for (kind, outcome), count in sorted(stats.actions.items()):
            actions.add_metric([kind, outcome], count)
        yield actions
        yield delay_histogram(
            "wepgw_rules_first_action_delay_seconds",
            "From an event reaching the engine to its firing's first action starting",
            [],
            [((), stats.first_action)],
        )

    # -- events and alarms -------------------------------------------------------------------------
    def _event_families(self) -> Iterator:
        layer = self._service("gateway.events.service", "EVENTS")
        if layer is None:
            return
        bus, intake = layer.bus.stats, layer.intake.stats
        accepted = CounterMetricFamily("wepgw_events", "Events delivered onto the bus", labels=["source"])
        for source, count in sorted(intake.accepted.items()):
            accepted.add_metric([source], count)
        yield accepted
        yield CounterMetricFamily(
            "wepgw_events_duplicates", "Events received again (same id) and dropped", value=bus.duplicates
        )
        yield CounterMetricFamily(
            "wepgw_events_unknown_camera", "Events for cameras no backend lists (dropped)", value=intake.unknown_camera
        )
        yield CounterMetricFamily(
            "wepgw_events_malformed", "Event entries that could not be read", value=intake.malformed
        )
        yield GaugeMetricFamily(
            "wepgw_events_subscribers", "Open event streams (SSE)", value=layer.bus.subscriber_count
        )
        yield CounterMetricFamily(
            "wepgw_events_subscribers_dropped",
            "Event streams dropped for falling behind",
            value=bus.subscribers_dropped,
        )
        if layer.receiver is None:
            return
        hooks = layer.receiver.stats
        yield GaugeMetricFamily(
            "wepgw_events_webhook_up",
            "1 while WEP's webhook is registered and posting (heartbeats on time)",
            value=1 if layer.registration.healthy else 0,
        )
        posts = CounterMetricFamily("wepgw_events_webhook_posts", "Verified webhook posts by type", labels=["type"])
        for kind, count in sorted(hooks.posts.items()):
            posts.add_metric([kind], count)
        yield posts
        rejected = CounterMetricFamily(
            "wepgw_events_webhook_rejected", "Webhook posts refused 401, by cause", labels=["cause"]
        )
        for cause, count in sorted(hooks.rejected.items()):
            rejected.add_metric([cause], count)
        yield rejected
        for name, doc in (
            ("overflow", "Verified posts dropped: the processing queue was full"),
            ("bad_requests", "Webhook posts that were too large or unreadable"),
            ("backfills", "Searches of WEP's event log after a gap"),
            ("backfilled", "Events found by those searches that had not arrived by webhook"),
            ("registrations", "Webhook registrations (start, and after a silence)"),
            ("degraded_spells", "Times the webhook fell silent for three heartbeats"),
        ):
            yield CounterMetricFamily(f"wepgw_events_webhook_{name}", doc, value=getattr(hooks, name))

    def _camera_families(self) -> Iterator:
        directory = self._app.get(CAMERAS)
        if directory is None:
            return
        family = GaugeMetricFamily(
            "wepgw_camera_available",
            "1 while a listed camera can be reached (0: see /api/v1/cameras reason)",
            labels=["camera", "source"],
        )
        for camera in directory.listed():
            family.add_metric([camera.id, camera.source], 1 if camera.available else 0)
        yield family

    # -- WEP client -----------------------------------------------------------------------------------
    def _wep_families(self) -> Iterator:
        client = self._app.get(WEP)
        if client is None:
            return
        stats = client.stats
        yield GaugeMetricFamily(
            "wepgw_wep_logged_in", "1 while the gateway holds a WEP session", value=1 if client.logged_in else 0
        )
        latency = SummaryMetricFamily(
            "wepgw_wep_request_duration_seconds", "WEP request time by route", labels=["route"]
        )
        errors = CounterMetricFamily("wepgw_wep_request_errors", "Failed WEP requests by route", labels=["route"])
        for route in sorted(stats.requests):
            latency.add_metric([route], stats.requests[route], stats.latency_seconds[route])
            errors.add_metric([route], stats.errors[route])
        yield latency
        yield errors
        for name in ("logins", "login_failures", "relogins", "stream_bytes", "audio_bytes"):
            yield CounterMetricFamily(f"wepgw_wep_{name}", f"WEP {name.replace('_', ' ')}", value=getattr(stats, name))


METRICS_REGISTRY = web.AppKey("metrics_registry", CollectorRegistry)


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS_REGISTRY])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE, "Cache-Control": "no-store"})


def add_routes(app: web.Application, viewers: Callable[[], dict[tuple[str, str], int]]) -> None:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(GatewayCollector(app, viewers))
    app[METRICS_REGISTRY] = registry
    app.router.add_get("/metrics", metrics)
