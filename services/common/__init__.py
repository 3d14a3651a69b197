"""commentslab common."""
