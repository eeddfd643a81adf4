"""The WEP emulator: an ACC Web Endpoint with looping test cameras (DESIGN "The WEP emulator").

Entry points: `server.Emulator(settings.EmulatorSettings)` (`await start()`, `.url`,
`.cert_path`, `await stop()`), `server.add_arguments(parser)`, `server.run_from_args(args)`.

Choices where the guide is silent (stable, so tests and the gateway can rely on them):
- Cameras: ids are stable opaque strings. With two or more cameras the LAST one is the
  "plain" camera: no speaker (spkc false, POST /media 409) and no microphone (no audio
  AdaptationSet in its MPD, format=webm 404). A single camera has both.
- Error codes: the guide shows only -25 NOT_FOUND; the others are in envelope.py.
- Live fMP4 decode times count from the emulator's start, shared by every reader of a
  camera; a recorded `t` stream starts at decode time 0. Tile representations in the MPD
  are served by the low stream. jpeg `size` returns exactly W x H.
- Talk: POST /media bodies are kept per camera with arrival times; past the cap
  (settings.talk_cap_ms) the rest is not read, the answer is 413 and the connection closes.
- Faults: Python (`drop_streams()`, `fail_next(n, status)`, `stall_streams(s)`,
  `expire_sessions()`) or HTTP without auth: POST /_emulator/drop, /_emulator/fail
  {"count", "status"}, /_emulator/stall {"seconds"}, /_emulator/expire;
  GET /_emulator/stats. Expired sessions do not end streams already open.
- Events: every event goes to a bounded log (settings.event_log_size) that /events/search
  reads, and to each webhook whose topics match. USER_LOGIN on every login; each camera's
  DEVICE_RECORDING_STARTED at start (the guide's ACTIVE sample); a START/STOP (_ON/_OFF,
  _STARTED/_STOPPED) pair links both ways; continuation tokens carry the whole query.
  Python: `inject_event(camera, type, **fields)`, `trigger_alarm(name, cameras)`,
  `alarm(id)`, `pause_webhooks()`, `resume_webhooks()`, `webhooks`, `webhook_stats`,
  `events`; HTTP: POST /_emulator/events, /_emulator/alarms, /_emulator/webhooks/pause,
  /_emulator/webhooks/resume; GET /_emulator/webhooks.
- Webhooks: answers are {"webhook", "accepted", "rejected"} (POST and PUT) and
  {"webhooks": [...]} (GET); topics are shown expanded from groups (guide, "Getting a
  Webhook"); the authenticationToken is never shown. A NOTIFICATION batches what is
  pending (up to 100 events); a full queue (settings.webhook_queue_size) drops the newest.
- Alarms: {"id", "name", "priority", "state", "cameraIds", "triggerTime", "lastActionTime",
  "assignedUser"?, "note"?}; PUT /alarm answers {"alarm": ...}; any action from any state.
- PTZ (settings.ptz_camera, --ptz-camera N; 0: none): that camera alone says
  capabilities.ptz true and takes /camera/commands/pan-tilt-zoom, /preset, /preset/home,
  /ptz/lock(/override) and /camera/ptz/preset (others: 400 "camera has no PTZ"). Its live
  JPEG and live fMP4 show what the head sees (ptz_view.py; live H.264 is encoded while
  watched, ptz_video.py); its recordings are the looping picture. GET /camera/ptz/preset
  answers {"presets": [{"id", "name"}], "maxId": 15}; commands answer bare success; the
  camera JSON carries "lockSessionGid" ("" when unlocked). Python: `ptz_state(camera)`,
  `ptz_log(camera)`, `ptz_video_stats(camera)`; HTTP: GET /_emulator/ptz.
- Digital outputs: two per camera, as GET /entities and /entity {"entities": [{"id",
  "type": "DIGITAL_OUTPUT", "name", "cameraId", "linkedCameraIds", "state": "ON"|"OFF"}]};
  a trigger with isToggle flips one, without it pulses it on for 1 s. Python:
  `output_entities(camera?)`, `output_log(camera?)`; HTTP: GET /_emulator/outputs.
- Timeline (recording_timeline.py): GET /timeline answers {"timelines": [{"cameraId",
  "scope", "recordings": [{"start", "end"}], "motion": [{"start", "end"}]}]}. Every camera
  records from the start to now less settings.recording_gaps (seconds after the start; add
  more with `add_recording_gap(start_s, end_s)` or POST /_emulator/recording/gaps {"start",
  "end"}); motion pairs the log's DEVICE_MOTION_START/STOP (an open START runs to now).
  A scope is a grid of X-second buckets from the Unix epoch: a range covers each bucket it
  touches, touching ones merge, all clipped to [start, end]. One storage layer: LAYER_1 and
  ALL show the recordings, LAYER_2 none. umdRange/rareness are checked, without effect.
- Bookmarks: {"id", "name", "description", "cameraIds", "startTime", "endTime",
  "isProtected"}; GET/POST/PUT /bookmark answer {"bookmark"}, GET /bookmarks and
  /bookmark/search {"bookmarks"}; ids "wepEmuBookmark000001"...; search matches bookmarks
  overlapping [from, to], name by case-blind substring. Python: `bookmarks`.
- Manual recording: POST /camera/record/manual answers bare success; START restarts a
  running recording's clock; a recording ends at STOP or maxDurationSec (default 86400)
  after START; STOP of a camera not recording succeeds. GET /camera/manual-record-state
  answers {"states": [{"cameraId", "startTime", "maxDurationSec"}]} of the asked cameras
  that record now. No events are raised (the guide names none). Python:
  `manual_recording(camera)`; HTTP: GET /_emulator/recording.
"""
