"""Paired statistics for comparing two arms' per-problem scores (core of the stats service)."""
