"""The one logging setup: every process logs one line per event to stderr."""

from __future__ import annotations

import logging
import os


def setup_logging(name: str = "commentslab") -> logging.Logger:
    """Configure the root logger once (level from COMMENTSLAB_LOG, default INFO) and return `name`'s."""
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=os.environ.get("COMMENTSLAB_LOG", "INFO").upper(),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
    # Libraries that narrate every request drown the progress bars.
    for noisy in ("httpx", "urllib3", "alembic", "mlflow", "filelock", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return logging.getLogger(name)
