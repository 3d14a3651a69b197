"""commentslab pipelines."""
