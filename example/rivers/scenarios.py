"""Slow and optimized scenarios of the rivers app."""
