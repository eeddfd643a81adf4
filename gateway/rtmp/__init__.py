"""RTMP pushes to streaming platforms: WEP-side (`/media/rtmp`) or gateway-side (FLV remux
of the hub), supervised with backoff and persisted in SQLite. Routes in `routes.py`."""
