"""aid aggregate."""
