"""Evaluation harness and its metrics: pass@k, exact and AST match, semantic similarity."""
