"""The native door: one JSON object per line."""
