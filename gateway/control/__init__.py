"""Camera control: PTZ (moves that coalesce and stop by themselves), presets, field of view,
digital outputs, and the one-operator-per-camera lock."""
