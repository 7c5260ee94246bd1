"""COUNTIF-style criteria and Excel wildcards."""

import pytest

from engine.errors import DIV0, NA
from engine.functions.criteria import has_wildcards, make_predicate, wildcard_regex
from engine.values import BLANK


@pytest.mark.parametrize("criterion, matches, rejects", [
    (1.0, [1.0, "1"], [2.0, True, BLANK, "x"]),
    ("1", [1.0, "1"], [True, "01x"]),
    (">1", [2.0], [1.0, "5", True, BLANK]),
    ("<=TRUE", [True, False], [1.0, "TRUE"]),
    ("<>-1", [1.0, "a", BLANK, True], [-1.0]),
    ("", [BLANK, ""], [0.0, " "]),
    ("=", [BLANK], ["", 0.0]),
    ("<>", [0.0, "", "a"], [BLANK]),
    ("c*", ["ciao", "C"], ["acid", 1.0]),
    ("?a?", ["bar"], ["ba", "bars"]),
    ("~*", ["*"], ["a"]),
    ("<>c*", ["dog", 1.0, BLANK], ["cat"]),
    (">b", ["c", "C"], ["a", 5.0]),
    (True, [True], [1.0, "TRUE"]),
    (NA, [NA], [DIV0, 0.0]),
    ("#N/A", [NA], [DIV0]),
    ("<>#N/A", [DIV0, 1.0], [NA]),
    (BLANK, [0.0], [BLANK, ""]),   # an empty criteria cell means 0
])
def test_make_predicate(criterion, matches, rejects):
    test = make_predicate(criterion)
    assert all(test(v) for v in matches)
    assert not any(test(v) for v in rejects)


def test_wildcards():
    assert wildcard_regex("a*b?").fullmatch("AxxbC")
    assert not wildcard_regex("a~?").fullmatch("ab")
    assert wildcard_regex("a~~").fullmatch("a~")
    assert has_wildcards("a?") and has_wildcards("~") and not has_wildcards("abc")
