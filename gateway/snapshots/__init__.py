"""JPEG snapshots and event images from WEP: validated, cached, single-flight, cropped locally."""
