"""Slow and optimized scenarios of the orders app."""
