"""api aggregate."""
