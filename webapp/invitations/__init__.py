"""invitations aggregate."""
