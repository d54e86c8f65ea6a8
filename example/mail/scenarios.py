"""Slow and optimized scenarios of the mail app."""
