"""Talkdown: a browser microphone (WHIP) or an uploaded file to a camera speaker (WEP POST /media)."""
