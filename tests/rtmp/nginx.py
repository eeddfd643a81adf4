"""A real nginx-rtmp receiver for tests: its own prefix, config and free ports on 127.0.0.1.

Applications:
- `live`: accepts any stream and records it (`record all`, one file per publish);
- `guarded`: asks `on_publish` (an HTTP location of the same nginx answering 403), so it
  refuses every stream key, the way a platform refuses a wrong one.

Single process (`master_process off`) so `kill()` is one PID: the one we started.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from pathlib import Path

MODULE = Path("/usr/lib/nginx/modules/ngx_rtmp_module.so")  # dpkg -L libnginx-mod-rtmp

CONFIG = """\
load_module {module};
daemon off;
master_process off;
# The worker must be allowed to write the record path (DESIGN.md, measured facts).
user root;
worker_processes 1;
error_log {prefix}/error.log info;
pid {prefix}/nginx.pid;
events {{ worker_connections 64; }}
rtmp {{
    server {{
        listen 127.0.0.1:{rtmp_port};
        application live {{
            live on;
{record}
        }}
        application guarded {{
            live on;
            on_publish http://127.0.0.1:{http_port}/refuse;
        }}
    }}
}}
http {{
    access_log off;
    client_body_temp_path {prefix}/tmp;
    proxy_temp_path {prefix}/tmp;
    fastcgi_temp_path {prefix}/tmp;
    uwsgi_temp_path {prefix}/tmp;
    scgi_temp_path {prefix}/tmp;
    server {{
        listen 127.0.0.1:{http_port};
        location /refuse {{ return 403; }}
        location /stat {{ rtmp_stat all; }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


RECORD = """\
            record all;
            record_path {records};
            record_unique on;
"""


class NginxRtmp:
    """Debian's nginx with the RTMP module under `prefix`: `live` keeps what it receives
    (FLV files per publish) unless `record` is off (benches: recording costs nginx CPU)."""

    def __init__(self, prefix: Path, record: bool = True):
        self.prefix = prefix
        self.records = prefix / "records"
        self.rtmp_port = free_port()
        self.http_port = free_port()
        self.process: subprocess.Popen | None = None
        self.records.mkdir(parents=True, exist_ok=True)
        (prefix / "tmp").mkdir(exist_ok=True)
        (prefix / "nginx.conf").write_text(
            CONFIG.format(
                module=MODULE,
                prefix=prefix,
                rtmp_port=self.rtmp_port,
                http_port=self.http_port,
                record=RECORD.format(records=self.records) if record else "",
            )
        )

    def url(self, app: str, key: str) -> str:
        return f"rtmp://127.0.0.1:{self.rtmp_port}/{app}/{key}"

    def start(self, timeout: float = 10.0) -> None:
        """Start (or start again, same ports) and wait until the RTMP port accepts."""
        assert shutil.which("nginx"), "nginx is not installed (run ./scripts/test)"
        assert MODULE.exists(), f"{MODULE} missing: install libnginx-mod-rtmp"
        with (self.prefix / "stderr.log").open("ab") as log:  # nginx keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                ["nginx", "-p", str(self.prefix), "-c", str(self.prefix / "nginx.conf")],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited: {(self.prefix / 'stderr.log').read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.rtmp_port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nginx did not listen in time")

    def kill(self) -> None:
        """SIGKILL our nginx (the receiver vanishes mid-stream, as a crash would)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def publishers(self, app: str, key: str) -> int:
        """Clients publishing `app/key` now, from nginx-rtmp's own statistics (rtmp_stat)."""
        import urllib.request
        from xml.etree import ElementTree

        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/stat", timeout=5) as resp:
            root = ElementTree.fromstring(resp.read())
        count = 0
        for application in root.iter("application"):
            if application.findtext("name") != app:
                continue
            for stream in application.iter("stream"):
                if stream.findtext("name") == key:
                    count += sum(1 for client in stream.iter("client") if client.find("publishing") is not None)
        return count

    def recordings(self, key: str) -> list[Path]:
        return sorted(self.records.glob(f"{key}-*.flv"), key=lambda path: path.stat().st_mtime)


def probe(path: Path | str) -> dict:
    """What ffprobe reads from a recording: streams and decoded video/audio frame times."""
    result = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_streams",
            "-show_frames",
            "-show_entries",
            "stream=codec_type,codec_name,profile,width,height,sample_rate:frame=media_type,pts_time",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    parsed = json.loads(result.stdout)
    frames: dict[str, list[float]] = {}
    for frame in parsed.get("frames", []):
        if frame.get("pts_time") not in (None, "N/A"):
            frames.setdefault(frame["media_type"], []).append(float(frame["pts_time"]))
    return {"streams": parsed.get("streams", []), "frames": frames, "errors": result.stderr.strip()}


def decoded_seconds(frames: list[float]) -> float:
    return max(frames) - min(frames) if frames else 0.0
