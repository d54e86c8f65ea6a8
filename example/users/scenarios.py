"""Slow and optimized scenarios of the users app."""
