"""Slow and optimized scenarios of the accounts app."""
