"""commentslab exporter."""
