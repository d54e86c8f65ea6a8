"""Slow and optimized scenarios of the catalogue app."""
