"""`python -m commentslab.pipelines.compile [OUT]`: compile the pipeline to the YAML the Kubeflow UI uploads.

The compiled file is committed (pipelines/commentslab_pipeline.yaml); a test fails when it differs
from a fresh compile, so run this (or `make pipeline`) after changing pipelines/.
"""

import sys
from pathlib import Path

from kfp import compiler

from commentslab.pipelines.pipeline import commentslab_pipeline

COMPILED = Path(__file__).with_name("commentslab_pipeline.yaml")


def compile_pipeline(out: Path = COMPILED) -> Path:
    """Write the pipeline's IR YAML to `out`; returns `out`."""
    compiler.Compiler().compile(commentslab_pipeline, str(out))
    return out


def main(argv: list[str] | None = None) -> int:
    """Compile to the path given (default: the committed file) and say where it went."""
    args = sys.argv[1:] if argv is None else argv
    out = compile_pipeline(Path(args[0]) if args else COMPILED)
    print(f"compiled {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
