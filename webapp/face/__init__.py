"""face aggregate."""
