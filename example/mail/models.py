"""Models of the mail app."""
