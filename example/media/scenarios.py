"""Slow and optimized scenarios of the media app."""
