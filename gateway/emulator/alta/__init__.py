"""An Avigilon Alta (cloud VMS) deployment emulator for the alarm flows of
reference/alta-alarms.txt: dologin, ongoingAlerts, alerts (one, verify, end, bookmarks),
the /cloud?t= shared link, alarm zones with arm/disarm, and the zones' webhook alarm action
(DESIGN "Emulators", "Alta").

Entry point: `AltaEmulator(AltaSettings(...))`, `await start()`, `url`,
`set_webhook(url, format, zone_key, device_key)`, `raise_alarm(zone_id, device_id)`,
`await stop()`.

What the guide fixes is followed as written: the paths, `POST /api/v1/dologin` with JSON
{"username", "password"} and a cookie in the answer; the alert fields `guid`,
`alarm_zone_id`, `merged`, `origin_name`; `acknowledgment_code` 101/201/202 posted with
`guid`, `merged` and `origin_name`; bookmarks' `guest_token`. Where it is silent
(alta-notes.md) one realistic choice is made, and the ones a client could trip over are
settings, so tests can prove a client copes either way:

- Cookie: `_alta_session` (setting `cookie_name`), HttpOnly, Path=/, SameSite=Lax, Secure
  under TLS, no Max-Age. A session lasts `session_ttl` seconds from dologin, used or not;
  then (or after `expire_sessions()`) every call answers 401.
- Lists are wrapped: `{"alerts": [...]}`, `{"bookmarks": [...]}`, `{"alarm_zones": [...]}`
  (`envelope="wrapped"`); `envelope="bare"` answers the bare JSON arrays. Single objects
  (one alert, one zone, verify and end answers) are never wrapped.
- Ids: zone, device, bookmark and user ids are JSON numbers (`ids="int"`) or their strings
  (`ids="str"`); alert guids are always UUID strings; guest tokens are 32 random URL-safe
  characters. Path and body ids are matched by their string, so 1 and "1" both work.
- Times are ISO 8601 UTC with milliseconds ("2025-06-09T12:00:00.123Z").
- Errors: `{"status": 404, "error": "Not Found", "message": "..."}` with that status;
  400 for a bad body, 401 without a live cookie (or for wrong credentials at dologin),
  404 for an unknown alert, zone or route, 409 for verifying or ending an ended alert.
- Verify: 404 (unknown guid) is checked before 400 (a missing field, a guid unlike the
  path's, a code not 101/201/202 as a JSON number, merged not a boolean, origin_name not a
  string) and 409 (ended). merged and origin_name are logged, not compared with the
  alert's: it may have merged again since the caller read it. Every accepted body is kept.
- End: ending an ended alert answers 409 (`end_again="conflict"`), or 200 with the alert
  as it is (`end_again="ok"`).
- Merging: a detection within `merge_window_s` of the zone's ongoing alert's last
  detection joins it: `merged` true, `detections` + 1, one more bookmark, `origin_name` /
  `origin_id` become the new detection's device. Each detection has its own bookmark
  (10 s before to 20 s after it) with its own guest token.
- A disarmed zone raises nothing (`raise_alarm` returns None, no webhook); disarming does
  not end its ongoing alerts. Bulk arm/disarm takes a JSON array of ids: all or none.
- Webhook: the alarm action posts `{zone_key: zone id, device_key: device id}` as JSON
  (ids typed as `ids` says) or as form fields (strings), defaults `alarmZoneId` and
  `deviceId`, for every new or merged detection, off the request, with
  `webhook_timeout_s`; each outcome is logged and kept in `webhook_log`. With
  `alert_lag_s` > 0 a new alert is hidden from every API call (404, absent from lists,
  its shared links 404) until that long after its webhook was sent; merges show at once.
- /cloud?t=<guest_token> needs no login: 200 with a small HTML page naming the zone, the
  device, the bookmark's times and the alert; an unknown token 404.
- Faults apply to the next N /api/v1 calls, dologin included, /cloud and control routes
  never: `fail_next` (status, JSON error), `garbage_next` (200 with HTML, cut-short JSON,
  or JSON of the wrong shape), `hang_next` (wait, then serve). Setting one replaces the
  last.
- Control without auth, as the Amcrest emulator's: POST /_emulator/alarms {"zone",
  "device"?}, GET /_emulator/alerts, POST /_emulator/fail|garbage|hang {"count", ...},
  POST /_emulator/expire, GET|POST /_emulator/webhook, GET /_emulator/stats.
"""

from gateway.emulator.alta.emulator import AltaEmulator
from gateway.emulator.alta.settings import AltaSettings, DeviceSpec, ZoneSpec

__all__ = ["AltaEmulator", "AltaSettings", "DeviceSpec", "ZoneSpec"]
