"""kinship aggregate."""
