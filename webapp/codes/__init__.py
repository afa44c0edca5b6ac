"""codes aggregate."""
