"""Slow and optimized scenarios of the pizzas app."""
