"""The worker daemon and its executor processes."""
