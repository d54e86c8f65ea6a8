"""Slow and optimized scenarios of the bigdata app."""
