"""commentslab splitter."""
