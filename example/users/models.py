"""The users app has no models of its own: it serves django.contrib.auth's User (seed 001)."""
