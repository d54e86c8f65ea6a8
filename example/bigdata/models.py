"""Models of the bigdata app."""
