"""commentslab pipeline."""
