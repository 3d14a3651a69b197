"""commentslab serving."""
