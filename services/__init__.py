"""commentslab services."""
