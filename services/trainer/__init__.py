"""commentslab trainer."""
