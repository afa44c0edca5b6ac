"""audit aggregate."""
