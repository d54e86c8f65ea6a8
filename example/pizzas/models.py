"""Models of the pizzas app."""
