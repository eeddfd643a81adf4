"""The push store: round trip, owner-only file, and nothing acknowledged is lost when the
writing process is killed with SIGKILL in the middle of its writes."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time

import pytest

from gateway.rtmp.store import PushSpec, PushStore, PushStoreError


def spec(push_id: str, **changes) -> PushSpec:
    values = {
        "id": push_id,
        "camera": "cam",
        "url": f"rtmp://host/app/key-{push_id}",
        "quality": "high",
        "media": "video",
        "mode": "gateway",
        "created_at": float(len(push_id)),
    }
    values.update(changes)
    return PushSpec(**values)


def test_round_trip_and_permissions(tmp_path):
    path = tmp_path / "sub" / "pushes.sqlite3"
    store = PushStore(str(path))
    store.add(spec("a"))
    store.add(spec("bb", mode="wep", media="both"))
    store.set_wep_stream("bb", "wep-17", "wep-session-0badc0ffee")
    store.remove("a")
    store.close()
    reopened = PushStore(str(path))
    [restored] = reopened.all()
    assert restored == spec(
        "bb", mode="wep", media="both", wep_stream_id="wep-17", wep_session="wep-session-0badc0ffee"
    )
    assert "0badc0ffee" not in repr(restored)  # a secret: a logged spec must not carry it
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it holds stream keys
    assert reopened._db.read("PRAGMA journal_mode") == [("wal",)]
    reopened.close()


def test_version_1_file_gains_the_session_and_end_columns(tmp_path):
    path = tmp_path / "pushes.sqlite3"
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE pushes (id TEXT PRIMARY KEY, camera TEXT NOT NULL, url TEXT NOT NULL, quality TEXT"
        " NOT NULL, media TEXT NOT NULL, mode TEXT NOT NULL, created_at REAL NOT NULL, wep_stream_id TEXT)"
        " STRICT"
    )
    old.execute("INSERT INTO pushes VALUES ('w', 'cam', 'rtmp://host/app/key-w', 'low', 'video', 'wep', 1.0, 'wep-3')")
    old.execute("PRAGMA user_version=1")
    old.commit()
    old.close()
    store = PushStore(str(path))
    # No session was kept then: the stream is stopped with the current session, as before.
    assert store.all() == [spec("w", mode="wep", quality="low", created_at=1.0, wep_stream_id="wep-3")]
    store.set_wep_stream("w", "wep-4", "session-4")
    assert store.all()[0].wep_session == "session-4"
    assert store.all()[0].stop_at is None  # pushes of old files run until deleted, as they did
    assert store._db.read("PRAGMA user_version") == [(3,)]
    store.close()


def test_a_timed_push_keeps_its_end_across_a_reopen(tmp_path):
    path = tmp_path / "pushes.sqlite3"
    store = PushStore(str(path))
    store.add(spec("t", stop_at=1234.5))
    store.close()
    reopened = PushStore(str(path))
    assert reopened.all() == [spec("t", stop_at=1234.5)]
    reopened.close()


def test_duplicate_id_is_refused_without_echoing_the_url(tmp_path):
    store = PushStore(str(tmp_path / "p.sqlite3"))
    store.add(spec("a"))
    with pytest.raises(PushStoreError) as raised:
        store.add(spec("a"))
    assert "key-a" not in str(raised.value)
    assert store.all() == [spec("a")]


def test_unusable_path_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(PushStoreError, match="cannot open push database"):
        PushStore(str(blocker / "pushes.sqlite3"))


WRITER = textwrap.dedent("""
    import sys
    from gateway.rtmp.store import PushSpec, PushStore
    store = PushStore(sys.argv[1])
    i = 0
    while True:
        push_id = f"p{i:06d}"
        store.add(PushSpec(push_id, "cam", "rtmp://h/a/" + "k" * 500, "high", "video", "gateway", float(i)))
        if i % 3 == 0:
            store.remove(f"p{i - 3:06d}")
        print(push_id, flush=True)  # acknowledged: add() returned, so the commit is durable
        i += 1
""")


def test_sigkill_mid_write_loses_nothing_acknowledged(tmp_path):
    path = str(tmp_path / "pushes.sqlite3")
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, path],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
    )
    acknowledged = []
    deadline = time.monotonic() + 30
    while len(acknowledged) < 60 and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        acknowledged.append(line.strip())
    process.send_signal(signal.SIGKILL)  # while it is writing the next ones
    process.wait(10)
    assert len(acknowledged) >= 60, "the writer did not get going"
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    check.close()
    stored = {push.id for push in PushStore(path).all()}
    removed = {f"p{i - 3:06d}" for i in range(0, 10**6, 3)}
    expected = {push_id for push_id in acknowledged if push_id not in removed}
    assert expected <= stored
    # Whatever the killed write was, it is there whole or not at all.
    assert all(push.url == "rtmp://h/a/" + "k" * 500 for push in PushStore(path).all())
