"""Three gateway nodes on one Redis in front of the WEP emulator (issue 18's "done when")."""

from __future__ import annotations

import asyncio
import re
import time

import aiohttp
import pytest

from tests.cluster.conftest import wait_until

pytestmark = pytest.mark.peer

CAMERA_PULL = "{camera}/fmp4/high"


def video_pulls(emulator, camera: str) -> int:
    return emulator.stats["media_connections"].get(f"{camera}/fmp4/high", 0)


def audio_pulls(emulator, camera: str) -> int:
    return sum(count for key, count in emulator.stats["media_connections"].items() if key.startswith(f"{camera}/webm/"))


class LiveReader:
    """A /live player: counts the bytes it gets and when it last got any."""

    def __init__(self, http: aiohttp.ClientSession, url: str):
        self.url = url
        self.bytes = 0
        self.last = 0.0
        self.requests = 0
        self._http = http
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        self.requests += 1
        async with self._http.get(self.url, timeout=aiohttp.ClientTimeout(total=None, sock_read=30)) as resp:
            assert resp.status == 200, await resp.text()
            async for chunk in resp.content.iter_any():
                self.bytes += len(chunk)
                self.last = time.monotonic()

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def mint(http: aiohttp.ClientSession, base: str, **body) -> dict:
    async with http.post(f"{base}/api/v1/tokens", json={"cameras": ["*"], **body}) as resp:
        assert resp.status == 201, await resp.text()
        return await resp.json()


async def test_one_pull_for_the_cluster_and_failover(emulator, cluster, admin_http):
    nodes = await cluster.start(3)
    camera = emulator.camera_ids[0]
    token = (await mint(admin_http, nodes[0].base, ttl=600))["token"]
    async with aiohttp.ClientSession() as http:
        readers = [LiveReader(http, f"{nodes[i % 3].base}/live/{camera}.mp4?token={token}") for i in range(30)]
        try:
            await wait_until(lambda: all(r.bytes > 20_000 for r in readers), 20, "every player gets media")
            assert video_pulls(emulator, camera) == 1, (emulator.stats["media_connections"], cluster.logs())
            assert audio_pulls(emulator, camera) <= 1, emulator.stats["media_connections"]

            view: dict = {}

            async def owner_listed() -> bool:  # members beat once a second: the view may lag
                nonlocal view
                async with admin_http.get(f"{nodes[1].base}/api/v1/cluster") as resp:
                    assert resp.status == 200, await resp.text()
                    view = await resp.json()
                listed = any({"camera": camera, "quality": "high"} in n["cameras"] for n in view["nodes"])
                return listed and sum(n["viewers"] for n in view["nodes"]) == 30

            await wait_until(owner_listed, 5, "the owner and 30 viewers in the cluster view")
            owners = [n for n in view["nodes"] if {"camera": camera, "quality": "high"} in n["cameras"]]
            assert [n["node_id"] for n in view["nodes"]] == ["node-a", "node-b", "node-c"], view
            assert len(owners) == 1, view
            assert [n["viewers"] for n in view["nodes"]] == [10, 10, 10], view
            owner = next(node for node in nodes if node.name == owners[0]["node_id"])
            others = [node for node in nodes if node is not owner]

            # A node that reads the camera from its owner serves HLS with the camera's audio.
            from tests.hls.test_ffmpeg import assert_clean, ffmpeg_frames

            pts, errors = await ffmpeg_frames(f"{others[0].base}/hls/{camera}/high/playlist.m3u8?token={token}", 4)
            assert_clean(pts, errors, 4)
            assert len(pts) == 2, "video and audio"
            assert video_pulls(emulator, camera) == 1

            await cluster.kill(owner)
            killed_at = time.monotonic()
            survivors = [r for r in readers if not r.url.startswith(owner.base)]

            async def new_owner() -> bool:
                async with admin_http.get(f"{others[0].base}/api/v1/cluster") as resp:
                    nodes_now = (await resp.json())["nodes"]
                return any(
                    {"camera": camera, "quality": "high"} in n["cameras"] and n["node_id"] != owner.name
                    for n in nodes_now
                )

            took_owner = await wait_until(new_owner, 5, "a new owner")
            marks = {id(r): r.bytes for r in survivors}
            took_media = await wait_until(
                lambda: all(r.bytes > marks[id(r)] + 5000 for r in survivors), 8, "media again on the other nodes"
            )
            assert all(r.requests == 1 and not r.task.done() for r in survivors), "a player had to reconnect"
            print(
                f"new owner after {took_owner:.2f}s; media {took_media:.2f}s later ({time.monotonic() - killed_at:.2f}s after the kill)"
            )
            assert video_pulls(emulator, camera) == 2, emulator.stats["media_connections"]
        finally:
            for reader in readers:
                await reader.stop()


async def test_one_talker_per_speaker_across_nodes(emulator, cluster, admin_http):
    """A file played through node A holds the camera's speaker for the whole cluster: the
    same rank on node B is refused with 409 naming A; once A's talk ends, B may talk."""
    from tests.talkdown.audio import tone, wav_bytes

    node_a, node_b = await cluster.start(2)
    camera = emulator.camera_ids[0]  # the emulator's first camera has a speaker
    long_file = wav_bytes(tone(6.0, 8000), 8000)
    url = "/api/v1/cameras/{camera}/talkdown"

    async def play(node) -> tuple[int, dict]:
        async with admin_http.post(
            node.base + url.format(camera=camera), data=long_file, headers={"Content-Type": "audio/wav"}
        ) as resp:
            return resp.status, await resp.json()

    first = asyncio.get_running_loop().create_task(play(node_a))
    await wait_until(lambda: emulator.stats["talk_bytes"].get(camera, 0) > 0, 10, "node A talking")
    status, body = await play(node_b)
    assert status == 409, body
    assert body["error"]["code"] == "speaker_busy" and "node-a" in body["error"]["message"], body
    status, body = await first
    assert status == 200, body
    status, body = await play(node_b)  # the lease went with A's talk
    assert status == 200, body


async def test_a_revoked_token_is_refused_on_every_node(emulator, cluster, admin_http):
    node_a, _, node_c = await cluster.start(3)
    camera = emulator.camera_ids[0]
    minted = await mint(admin_http, node_a.base, ttl=600, actions=["view", "snapshot"])
    url = f"{node_c.base}/api/v1/cameras/{camera}/snapshot.jpg?token={minted['token']}"
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as resp:
            assert resp.status == 200, await resp.text()
        async with admin_http.post(f"{node_a.base}/api/v1/tokens/revoke", json={"token": minted["token"]}) as resp:
            assert resp.status == 204, await resp.text()
        revoked_at = time.monotonic()

        async def refused() -> bool:
            async with http.get(url) as resp:
                return resp.status == 401 and (await resp.json())["error"]["code"] == "token_revoked"

        took = await wait_until(refused, 1.0, "node C refusing the token revoked on node A", step=0.02)
        print(f"refused on node C {took * 1000:.0f} ms after the revoke on node A")
        assert time.monotonic() - revoked_at < 1.0
        # A node that starts later learns it from Redis, not from the channel.
        [node_d] = await cluster.start(1)
        async with http.get(url.replace(node_c.base, node_d.base)) as resp:
            assert resp.status == 401, await resp.text()


async def test_a_guest_link_made_on_one_node_opens_and_is_revoked_on_all(emulator, cluster, admin_http):
    node_a, node_b = await cluster.start(2)
    camera = emulator.camera_ids[0]
    async with admin_http.post(
        f"{node_a.base}/api/v1/links", json={"camera": camera, "live": True, "ttl": 600}
    ) as resp:
        assert resp.status == 201, await resp.text()
        link = await resp.json()
    link_id = link["url"].rsplit("/", 1)[1]
    page = f"{node_b.base}/g/{link_id}"
    async with aiohttp.ClientSession() as http:

        async def status() -> int:
            async with http.get(page) as resp:
                return resp.status

        await wait_until(lambda: status_is(status, 200), 2, "the link known on node B")
        async with admin_http.delete(f"{node_a.base}/api/v1/links/{link['ref']}") as resp:
            assert resp.status in (200, 204), await resp.text()
        await wait_until(lambda: status_is(status, 410), 1.0, "the link refused on node B", step=0.02)


async def status_is(status, expected: int) -> bool:
    return await status() == expected


async def test_a_push_moves_to_a_surviving_node(emulator, cluster, admin_http, rtmp_receiver):
    nodes = await cluster.start(3)
    camera = emulator.camera_ids[0]
    key = "cluster-push-0123456789"
    body = {"camera": camera, "url": rtmp_receiver.url("live", key), "mode": "gateway", "media": "video"}
    async with admin_http.post(f"{nodes[1].base}/api/v1/pushes", json=body) as resp:
        assert resp.status == 201, await resp.text()
        push = await resp.json()
    assert push["node"] == "node-b", push

    async def live_on(node) -> dict:
        async with admin_http.get(f"{node.base}/api/v1/pushes/{push['id']}") as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()

    await wait_until(lambda: view_state(live_on(nodes[0]), "live", "node-b"), 20, "the push live on node B")
    assert rtmp_receiver.publishers("live", key) == 1

    await cluster.kill(nodes[1])
    killed_at = time.monotonic()
    survivors = [nodes[0], nodes[2]]
    await wait_until(
        lambda: any_view_live(live_on(survivors[0]), ("node-a", "node-c")), 10, "the push live again on a survivor"
    )
    took = time.monotonic() - killed_at
    print(f"push running again {took:.2f}s after its node was killed")
    await wait_until(lambda: rtmp_receiver.publishers("live", key) == 1, 5, "one publisher at nginx-rtmp")
    for _ in range(10):  # and only one, for a while
        assert rtmp_receiver.publishers("live", key) <= 1
        await asyncio.sleep(0.2)
    async with admin_http.get(f"{survivors[1].base}/api/v1/pushes") as resp:
        listed = (await resp.json())["pushes"]
    assert [p["id"] for p in listed] == [push["id"]], listed
    async with admin_http.delete(f"{survivors[1].base}/api/v1/pushes/{push['id']}") as resp:
        assert resp.status == 200, await resp.text()
    await wait_until(lambda: rtmp_receiver.publishers("live", key) == 0, 5, "the push stopped by a DELETE on any node")


async def view_state(view, state: str, node: str) -> bool:
    shown = await view
    return shown["state"] == state and shown["node"] == node


async def any_view_live(view, nodes: tuple[str, ...]) -> bool:
    shown = await view
    return shown["state"] == "live" and shown["node"] in nodes


async def test_redis_away_for_ten_seconds(emulator, cluster, admin_http, redis, rtmp_receiver):
    """Redis stops for 10 s: players keep their picture from the node they watch, the
    WEP pull stays one, the push stops when its lease would have expired (never two
    publishers), /readyz says why; Redis back, everything resumes by itself."""
    nodes = await cluster.start(3)
    camera = emulator.camera_ids[0]
    token = (await mint(admin_http, nodes[0].base, ttl=600))["token"]
    key = "redis-away-0123456789"
    body = {"camera": camera, "url": rtmp_receiver.url("live", key), "mode": "gateway", "media": "video"}
    async with admin_http.post(f"{nodes[0].base}/api/v1/pushes", json=body) as resp:
        assert resp.status == 201, await resp.text()
        push = await resp.json()
    async with aiohttp.ClientSession() as http:
        readers = [LiveReader(http, f"{node.base}/live/{camera}.mp4?token={token}") for node in nodes]
        try:
            await wait_until(lambda: all(r.bytes > 20_000 for r in readers), 20, "every player gets media")
            await wait_until(lambda: rtmp_receiver.publishers("live", key) == 1, 20, "the push publishing")
            pulls = video_pulls(emulator, camera)

            redis.stop()
            marks = [r.bytes for r in readers]
            most_publishers = 0
            for _ in range(50):  # 10 s
                most_publishers = max(most_publishers, rtmp_receiver.publishers("live", key))
                await asyncio.sleep(0.2)
            assert all(r.bytes > mark + 20_000 for r, mark in zip(readers, marks, strict=True)), "a player froze"
            assert video_pulls(emulator, camera) == pulls, emulator.stats["media_connections"]
            assert most_publishers <= 1
            assert rtmp_receiver.publishers("live", key) == 0, "the push outlived its lease"
            async with http.get(f"{nodes[1].base}/readyz") as resp:
                ready = await resp.json()
            assert resp.status == 503 and "Redis" in ready["reason"], ready
            async with http.get(f"{nodes[1].base}/metrics") as resp:
                text = await resp.text()
            assert "wepgw_cluster_redis_up 0.0" in text and "wepgw_cluster_redis_errors_total" in text, text[-2000:]

            redis.start()
            took = await wait_until(lambda: rtmp_receiver.publishers("live", key) == 1, 15, "the push back")
            print(f"push publishing again {took:.2f}s after Redis returned")

            async def all_ready() -> bool:
                for node in nodes:
                    async with http.get(f"{node.base}/readyz") as resp:
                        if resp.status != 200:
                            return False
                return True

            await wait_until(all_ready, 3, "every node ready again")
            async with http.get(f"{nodes[0].base}/metrics") as resp:
                text = await resp.text()
            assert "wepgw_cluster_redis_up 1.0" in text and 'wepgw_cluster_leases{kind="push"}' in text
            for _ in range(10):
                assert rtmp_receiver.publishers("live", key) <= 1
                await asyncio.sleep(0.2)
            marks = [r.bytes for r in readers]
            await wait_until(
                lambda: all(r.bytes > mark + 20_000 for r, mark in zip(readers, marks, strict=True)), 5, "media on"
            )
            assert all(r.requests == 1 and not r.task.done() for r in readers), "a player had to reconnect"
            async with admin_http.get(f"{nodes[2].base}/api/v1/pushes/{push['id']}") as resp:
                assert (await resp.json())["state"] == "live"
            assert video_pulls(emulator, camera) == pulls, emulator.stats["media_connections"]
        finally:
            for reader in readers:
                await reader.stop()


async def test_a_rule_fires_once_per_cluster(emulator, cluster, admin_http):
    """Both nodes hear WEP's event (each has its webhook) and hold the same rule: one fires
    it, the other counts it as fired elsewhere; the cooldown holds for both."""
    from tests.rules.conftest import Receiver

    nodes = await cluster.start(2)
    camera = emulator.camera_ids[0]
    hook = Receiver()
    await hook.server.start_server()
    try:
        rule = {
            "name": "porch",
            "when": {"cameras": [camera], "types": ["DEVICE_MOTION_START"], "timezone": "UTC"},
            "cooldown_s": 60,
            "actions": [{"webhook": {"url": hook.url, "secret": "rule-secret-0123456789"}}],
        }
        ids = []
        for node in nodes:
            async with admin_http.post(f"{node.base}/api/v1/rules", json=rule) as resp:
                assert resp.status == 201, await resp.text()
                ids.append((await resp.json())["id"])

        async def stats() -> list[dict]:
            found = []
            for node, rule_id in zip(nodes, ids, strict=True):
                async with admin_http.get(f"{node.base}/api/v1/rules/{rule_id}") as resp:
                    found.append((await resp.json())["stats"])
            return found

        await wait_until(lambda: len(emulator.webhooks) == 2, 10, "both nodes' webhooks on WEP")
        await asyncio.sleep(1.5)  # each node's HELLO in: events before it are searched, later
        emulator.inject_event(camera, "DEVICE_MOTION_START")

        async def decided() -> bool:
            found = await stats()
            return sum(s["fired"] for s in found) == 1 and sum(s["skipped"].get("elsewhere", 0) for s in found) == 1

        await wait_until(decided, 15, "one node firing, the other skipping it as fired elsewhere")
        await wait_until(lambda: len(hook.posts) == 1, 5, "the webhook posted once")

        async def firing_everywhere() -> bool:  # the firing is one node's event: relayed to the other
            found = set()
            for node in nodes:
                async with admin_http.get(f"{node.base}/api/v1/events", params={"type": "RULE_FIRED"}) as resp:
                    found.add(tuple(event["id"] for event in (await resp.json())["events"]))
            return len(found) == 1 and len(next(iter(found))) == 1

        await wait_until(firing_everywhere, 5, "the firing on both nodes' event lists, once, under one id")
        received = 0
        for node in nodes:
            async with admin_http.get(f"{node.base}/metrics") as resp:
                text = await resp.text()
            found = re.search(r'^wepgw_cluster_events_total\{outcome="received"\} (\S+)$', text, re.MULTILINE)
            assert found is not None, text[-2000:]
            received += int(float(found.group(1)))
        assert received == 1  # the firing, by the node that did not fire

        emulator.inject_event(camera, "DEVICE_MOTION_START")

        async def cooled() -> bool:
            return sum(s["skipped"].get("cooldown", 0) for s in await stats()) >= 1

        await wait_until(cooled, 15, "the second motion inside the cooldown skipped")
        await asyncio.sleep(1.0)
        assert len(hook.posts) == 1
        assert sum(s["fired"] for s in await stats()) == 1
    finally:
        await hook.server.close()


async def test_two_nodes_given_one_webhook_url_register_it_once(emulator, cluster, admin_http):
    """A shared [events] public_url (the edge's, say) would have the nodes replace each
    other's webhook token: the second node registers nothing and says why."""
    cluster.events_url = "http://127.0.0.1:9/shared"
    nodes = await cluster.start(2)

    async def reasons() -> list[str]:
        found = []
        for node in nodes:
            async with admin_http.get(f"{node.base}/readyz") as resp:
                found.append((await resp.json())["events"].get("reason", ""))
        return found

    async def one_refused() -> bool:
        return sum("registered already" in reason for reason in await reasons()) == 1

    await wait_until(one_refused, 15, "one node reporting the shared URL")
    refused = next(i for i, reason in enumerate(await reasons()) if "registered already" in reason)
    reason, holder = (await reasons())[refused], nodes[1 - refused]
    assert "http://127.0.0.1:9/shared/wep/webhook" in reason and f"node {holder.name} " in reason, reason
    assert [hook["url"] for hook in emulator.webhooks] == ["http://127.0.0.1:9/shared/wep/webhook"]
    assert "no webhook registered" in nodes[refused].log.read_text()
    assert "no webhook registered" not in holder.log.read_text()


async def test_the_webhook_of_a_killed_node_is_deleted_by_the_next_registration(emulator, cluster, admin_http):
    """A node that dies without deleting its webhook (SIGKILL; a pod that comes back at
    another address) would leave WEP posting to nobody: the next node to register deletes it."""
    a, b = await cluster.start(2)

    def urls() -> list[str]:
        return sorted(hook["url"] for hook in emulator.webhooks)

    await wait_until(lambda: urls() == sorted(f"{n.base}/wep/webhook" for n in (a, b)), 10, "both webhooks")
    await cluster.kill(b)
    await asyncio.sleep(3.5)  # its member key lapses (member_ttl_ms 3000)
    [c] = await cluster.start(1)
    await wait_until(lambda: urls() == sorted(f"{n.base}/wep/webhook" for n in (a, c)), 10, "b's webhook gone")
    assert f"deleted 1 webhook(s) of cluster nodes that are gone: {b.base}/wep/webhook" in c.log.read_text()


async def test_one_operator_steers_a_camera_across_nodes(emulator, cluster, admin_http):
    node_a, node_b = await cluster.start(2)
    camera = emulator.camera_ids[0]  # the PTZ camera
    alice = (await mint(admin_http, node_a.base, ttl=600, actions=["ptz"], sub="alice"))["token"]
    bob = (await mint(admin_http, node_a.base, ttl=600, actions=["ptz"], sub="bob"))["token"]
    move = {"pan": 0.5, "tilt": 0, "zoom": 0}
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{node_a.base}/api/v1/cameras/{camera}/ptz", json=move, headers={"Authorization": f"Bearer {alice}"}
        ) as resp:
            assert resp.status in (200, 202, 204), await resp.text()
        async with http.post(
            f"{node_b.base}/api/v1/cameras/{camera}/ptz", json=move, headers={"Authorization": f"Bearer {bob}"}
        ) as resp:
            body = await resp.json()
        assert resp.status == 409 and "alice" in body["error"]["message"], body
        async with http.post(  # alice goes on steering through the other node
            f"{node_b.base}/api/v1/cameras/{camera}/ptz/stop", headers={"Authorization": f"Bearer {alice}"}
        ) as resp:
            assert resp.status in (200, 202, 204), await resp.text()


async def test_the_per_camera_viewer_limit_holds_for_the_cluster(emulator, cluster, admin_http):
    cluster.extra = "[limits]\nmax_viewers_per_camera = 4"
    node_a, node_b = await cluster.start(2)
    camera = emulator.camera_ids[1]
    token = (await mint(admin_http, node_a.base, ttl=600))["token"]
    async with aiohttp.ClientSession() as http:
        readers = [LiveReader(http, f"{node_a.base}/live/{camera}.mp4?token={token}") for _ in range(3)]
        readers.append(LiveReader(http, f"{node_b.base}/live/{camera}.mp4?token={token}"))
        try:
            await wait_until(lambda: all(r.bytes > 0 for r in readers), 20, "four viewers")

            async def refused_on_b() -> bool:  # node A's count reaches node B with its next beat
                async with http.get(f"{node_b.base}/live/{camera}.mp4?token={token}") as resp:
                    if resp.status == 200:
                        return False
                    body = await resp.json()
                    assert resp.status == 503 and body["error"]["code"] == "too_many_viewers", body
                    return True

            await wait_until(refused_on_b, 3, "the fifth viewer refused on node B")
            await readers[0].stop()

            async def admitted_on_b() -> bool:
                async with http.get(f"{node_b.base}/live/{camera}.mp4?token={token}") as resp:
                    return resp.status == 200

            await wait_until(admitted_on_b, 5, "room again once a viewer on node A left")
        finally:
            for reader in readers:
                await reader.stop()


async def test_a_file_on_one_node_preempts_a_rule_clip_on_another(emulator, cluster, admin_http):
    """Talkers rank across nodes as within one: a rule's clip playing through node A gives
    the speaker up at once to a file sent through node B."""
    from tests.talkdown.audio import tone, wav_bytes

    node_a, node_b = await cluster.start(2)
    camera = emulator.camera_ids[0]
    async with admin_http.post(
        f"{node_a.base}/api/v1/clips", params={"name": "long-warning"}, data=wav_bytes(tone(8.0, 8000), 8000)
    ) as resp:
        assert resp.status == 201, await resp.text()
    rule = {
        "name": "speak",
        "when": {"cameras": [camera], "types": ["DEVICE_MOTION_START"]},
        "actions": [{"talkdown": {"clip": "long-warning"}}],
    }
    async with admin_http.post(f"{node_a.base}/api/v1/rules", json=rule) as resp:
        assert resp.status == 201, await resp.text()
        rule_id = (await resp.json())["id"]
    await wait_until(lambda: len(emulator.webhooks) == 2, 10, "both nodes' webhooks on WEP")
    await asyncio.sleep(1.5)
    emulator.inject_event(camera, "DEVICE_MOTION_START")
    await wait_until(lambda: emulator.stats["talk_bytes"].get(camera, 0) > 8000, 15, "the clip playing through A")

    started = time.monotonic()
    async with admin_http.post(
        f"{node_b.base}/api/v1/cameras/{camera}/talkdown",
        data=wav_bytes(tone(1.0, 8000), 8000),
        headers={"Content-Type": "audio/wav"},
    ) as resp:
        body = await resp.json()
    assert resp.status == 200, body
    print(f"file through B played {time.monotonic() - started:.2f}s after it was sent (clip preempted on A)")

    async def clip_outcome() -> dict | None:
        async with admin_http.get(f"{node_a.base}/api/v1/rules/{rule_id}/history") as resp:
            firings = await resp.json()
        firings = firings.get("firings", firings) if isinstance(firings, dict) else firings
        return firings[0]["actions"][0] if firings else None

    async def ended() -> bool:
        outcome = await clip_outcome()
        return outcome is not None

    await wait_until(ended, 10, "the clip's firing recorded on A")
    outcome = await clip_outcome()
    assert "preempted" in outcome["detail"], outcome


async def test_a_pull_started_without_redis_takes_its_lease_when_redis_returns(emulator, cluster, admin_http, redis):
    """A camera first watched while Redis is away is pulled without a lease (a picture beats
    none); once Redis answers, the pull takes its lease, and a second node's viewer then
    reads it from this node: still one WEP pull."""
    node_a, node_b = await cluster.start(2)
    camera = emulator.camera_ids[1]
    token = (await mint(admin_http, node_a.base, ttl=600))["token"]
    redis.stop()
    async with aiohttp.ClientSession() as http:
        first = LiveReader(http, f"{node_a.base}/live/{camera}.mp4?token={token}")
        second = None
        try:
            await wait_until(lambda: first.bytes > 20_000, 20, "a viewer without Redis")
            redis.start()

            async def leased() -> bool:
                async with admin_http.get(f"{node_b.base}/api/v1/cluster") as resp:
                    if resp.status != 200:
                        return False
                    view = await resp.json()
                return any({"camera": camera, "quality": "high"} in n["cameras"] for n in view["nodes"])

            await wait_until(leased, 10, "the pull under its lease again")
            second = LiveReader(http, f"{node_b.base}/live/{camera}.mp4?token={token}")
            await wait_until(lambda: second.bytes > 20_000, 20, "a viewer on the other node")
            assert video_pulls(emulator, camera) == 1, emulator.stats["media_connections"]
            assert first.requests == 1 and not first.task.done()
        finally:
            await first.stop()
            if second is not None:
                await second.stop()


async def test_a_revocation_made_while_redis_is_away_reaches_the_others_when_it_returns(
    emulator, cluster, admin_http, redis
):
    node_a, node_b = await cluster.start(2)
    camera = emulator.camera_ids[0]
    minted = await mint(admin_http, node_a.base, ttl=600, actions=["snapshot"])
    url = f"{node_b.base}/api/v1/cameras/{camera}/snapshot.jpg?token={minted['token']}"
    redis.stop()
    async with admin_http.post(f"{node_a.base}/api/v1/tokens/revoke", json={"token": minted["token"]}) as resp:
        assert resp.status == 204, await resp.text()  # at once on node A; the others when Redis is back
    async with aiohttp.ClientSession() as http:
        redis.start()

        async def refused_on_b() -> bool:
            async with http.get(url) as resp:
                return resp.status == 401

        took = await wait_until(refused_on_b, 5, "node B refusing the token once Redis returned")
        print(f"refused on node B {took:.2f}s after Redis returned")
    assert "announcements wait for Redis" in node_a.log.read_text()
