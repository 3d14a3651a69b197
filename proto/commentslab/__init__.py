"""commentslab: does `.comments` sidecar metadata make a code model write better code?

The Python API is `commentslab.run_experiment(...)` and `commentslab.load_results(path)`
(commentslab.services.api); they import the experiment's stack only when first used, so importing the
gRPC stubs (`commentslab.v1`) stays light.
"""

from __future__ import annotations

__all__ = ["load_results", "run_experiment", "__version__"]


def __getattr__(name: str):
    if name in ("run_experiment", "load_results", "Results", "Table"):
        from commentslab.services import api

        return getattr(api, name)
    if name == "__version__":
        from importlib.metadata import version

        return version("commentslab")
    raise AttributeError(f"module 'commentslab' has no attribute {name!r}")
