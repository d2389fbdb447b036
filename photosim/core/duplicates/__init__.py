"""Finding duplicate photos."""
