"""Sandbox service: runs untrusted, model-written programs against their tests under limits."""
