"""Slow and optimized scenarios of the stats app."""
