"""registry aggregate."""
