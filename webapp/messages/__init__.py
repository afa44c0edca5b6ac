"""messages aggregate."""
