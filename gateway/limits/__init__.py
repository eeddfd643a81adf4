"""Admission limits: viewers per camera and in total, body sizes, request timeouts.
Over a limit the answer is immediate (503 + Retry-After, or 413), never a slow death."""
