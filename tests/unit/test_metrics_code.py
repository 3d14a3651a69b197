"""JavaScript AST match through tree-sitter, CodeBLEU from the codebleu package, and the leakage audit."""

import pytest
from codebleu import calc_codebleu

from commentslab.services.evaluator.codebleu_score import codebleu_scores
from commentslab.services.evaluator.leakage import leakage_audit, ngram_overlap
from commentslab.services.evaluator.match import ast_match, javascript_ast_match

JS_PROMPT = "function add(a, b) {\n"
JS_REFERENCE = "  return a + b;\n}\n"


def test_javascript_ast_match_ignores_comments_and_layout():
    generated = "  // add them\n  return a +\n      b;   \n}\n"
    assert javascript_ast_match(JS_PROMPT, generated, JS_REFERENCE) == 1.0
    assert ast_match(JS_PROMPT, generated, JS_REFERENCE, language="javascript") == 1.0


def test_javascript_ast_match_sees_different_code():
    assert javascript_ast_match(JS_PROMPT, "  return b + a;\n}\n", JS_REFERENCE) == 0.0
    assert javascript_ast_match(JS_PROMPT, "  return a - b;\n}\n", JS_REFERENCE) == 0.0
    assert javascript_ast_match(JS_PROMPT, "  return `${a}${b}`;\n}\n", JS_REFERENCE) == 0.0


def test_javascript_that_does_not_parse_scores_zero_and_a_broken_reference_is_an_error():
    assert javascript_ast_match(JS_PROMPT, "  return a + ;\n}\n", JS_REFERENCE) == 0.0
    with pytest.raises(ValueError, match="not valid JavaScript"):
        javascript_ast_match(JS_PROMPT, JS_REFERENCE, "  return (a + ;\n}\n")


def test_ast_match_rejects_a_language_without_a_parser():
    with pytest.raises(ValueError, match="python and javascript"):
        ast_match("", "x", "x", language="cobol")


REFERENCE = "    total = 0\n    for x in xs:\n        total += x\n    return total\n"


def test_codebleu_is_one_for_identical_code_and_orders_related_above_unrelated():
    related = "    s = 0\n    for v in xs:\n        s += v\n    return s\n"
    unrelated = "    print('hello world')\n"
    identical, close, far = codebleu_scores([REFERENCE, related, unrelated], [REFERENCE] * 3)
    assert identical == pytest.approx(1.0)
    assert close > far + 0.2
    assert codebleu_scores([""], [REFERENCE]) == [0.0]


def test_codebleu_is_the_mean_of_the_packages_components_without_its_zero_as_one_quirk():
    garbage = "quantum picnic reassurance Khmer exhib"
    (ours,) = codebleu_scores([garbage], [REFERENCE])
    parts = calc_codebleu(["total = 0\nfor x in xs:\n    total += x\nreturn total\n"], [garbage], lang="python")
    components = [parts[k] for k in ("ngram_match_score", "weighted_ngram_match_score", "syntax_match_score",
                                     "dataflow_match_score")]
    assert ours == pytest.approx(sum(components) / 4)
    assert parts["codebleu"] >= 0.25 > ours  # the package's own total floors at 0.25


def test_codebleu_scores_javascript_and_rejects_unknown_languages():
    (score,) = codebleu_scores(["return a + b;"], ["return a + b;"], language="javascript")
    assert score > 0.5
    with pytest.raises(ValueError, match="not 'cobol'"):
        codebleu_scores(["x"], ["x"], language="cobol")


def test_ngram_overlap_finds_metadata_that_repeats_the_code():
    target = "    return sorted(set(values), reverse=True)\n"
    assert ngram_overlap("Use `return sorted(set(values), reverse=True)` here", target) == 1.0
    assert ngram_overlap("Sort the unique values in descending order", target) == 0.0


def test_leakage_audit_flags_rows_and_says_whether_they_reach_the_prompt():
    rows = [
        {"id": "a", "completion": "    return sorted(set(values), reverse=True)\n",
         "metadata": {"text": "return sorted(set(values), reverse=True)", "params": {}, "aiMetadata": {}}},
        {"id": "b", "completion": "    return a + b\n",
         "metadata": {"text": "Adds two numbers", "params": {"functionName": "add"}, "aiMetadata": {}}},
    ]
    hidden = leakage_audit(rows, "none")
    shown = leakage_audit(rows, "rendered")
    assert [f["id"] for f in hidden["flagged"]] == ["a"]
    assert hidden["flaggedShare"] == 0.5 and hidden["leaks"] is False
    assert shown["leaks"] is True
