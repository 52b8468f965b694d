"""Small pure helpers shared by the client and the server (no I/O, no state)."""
