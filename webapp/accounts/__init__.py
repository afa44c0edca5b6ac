"""accounts aggregate."""
