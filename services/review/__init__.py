"""commentslab review queue: records a check failed or flagged, waiting for a person's decision."""
