"""Services: the rules and every state change, as plain functions (no request, no flash)."""
