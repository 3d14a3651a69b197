"""The reference design's shape on the smoke model, small enough for the suite: 2 folds x 2 training seeds x
control/experiment/placebo, 4 samples per problem, pass@1 and pass@2, on HumanEval's first 24 problems.
Both runners run it (tests/conftest.py: design_run, design_kfp_run) and must agree on every figure."""

DESIGN = {"folds": 2, "seeds": [1234, 4321], "arms": ["control", "experiment", "placebo"]}
DESIGN_SETS = ["data.corpus_problems=24", "generate.n=4", "evaluate.k=[1, 2]", "train.steps=4"]


def design_overrides() -> list[str]:
    """DESIGN and DESIGN_SETS as `--set` overrides of the smoke profile."""
    return [f"data.folds={DESIGN['folds']}", f"seeds=[{', '.join(map(str, DESIGN['seeds']))}]",
            f"data.arms=[{', '.join(DESIGN['arms'])}]", *DESIGN_SETS]
