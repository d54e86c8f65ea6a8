"""Models of the rivers app."""
