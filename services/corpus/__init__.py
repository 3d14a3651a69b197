"""commentslab corpus."""
