"""Logging set-up: one line per event, text for people or JSON for machines.

A `SecretRedactor` sits on the handler as the last line of defence: whatever a module
logs, the WEP password, user key, admin key, token secret and the current WEP session
are replaced by `***` before the line is written.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time


class SecretRedactor(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()

    def add(self, secret: str) -> None:
        # Very short values would redact ordinary words; real secrets are longer.
        if secret and len(secret) >= 4:
            self._secrets.add(secret)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self._secrets:
            message = self.redact(record.getMessage())
            record.msg, record.args = message, None
            if record.exc_info:
                record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        camera = getattr(record, "camera", None)
        if camera:
            entry["camera"] = camera
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        camera = getattr(record, "camera", None)
        return f"{line} camera={camera}" if camera and f"camera={camera}" not in line else line


redactor = SecretRedactor()


class UrlCredentialFilter(logging.Filter):
    """Cuts the credentials that travel in URLs out of aiohttp's access log lines: a viewer
    token or guest link id in `?token=`, a guest link id in /g/<id> and /api/v1/links/<id>,
    the Alta webhook's secret in /alta/webhook/<secret>.
    `serve` runs without an access log; test servers and apps embedding the gateway have one."""

    _IN_URL = re.compile(r"([?&]token=|/g/|/api/v1/links/|/alta/webhook/)[^\s&\"/?]+")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cut = self._IN_URL.sub(r"\1***", message)
        if cut != message:
            record.msg, record.args = cut, None
            line = getattr(record, "first_request_line", None)
            if isinstance(line, str):
                record.first_request_line = self._IN_URL.sub(r"\1***", line)
        return True


logging.getLogger("aiohttp.access").addFilter(UrlCredentialFilter())


def configure_logging(log_format: str = "text", level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(redactor)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
