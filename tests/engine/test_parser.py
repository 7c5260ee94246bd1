"""Formula grammar: tokens, Excel's operator precedence, references, array constants, errors.

Trees are compared structurally, so each test pins how Excel groups a formula, not just a value
that might come out right by accident.
"""

from __future__ import annotations

import pytest

from engine.errors import NA, REF, VALUE, FormulaSyntaxError
from engine.nodes import (
    ABS_C1,
    ABS_C2,
    ABS_R1,
    ABS_R2,
    ArrayLiteral,
    BadRef,
    Binary,
    Call,
    Literal,
    Missing,
    Name,
    Percent,
    RefNode,
    Unary,
    Union,
    walk,
)
from engine.parser import parse, shape_key
from engine.refs import MAX_COL, MAX_ROW, Ref
from engine.structured import make_resolver
from engine.workbook import Table

SHEETS = ("Sheet1", "Sheet2", "Sheet3", "My Sheet", "It's")  # in tab order
ALL_FIXED = ABS_R1 | ABS_C1 | ABS_R2 | ABS_C2


def p(formula: str, row: int = 1, col: int = 1):
    return parse(formula, "Sheet1", row, col, sheet_names=SHEETS)


def lit(v):
    return Literal(float(v) if isinstance(v, int) else v)


def area(formula: str, row: int = 10, col: int = 10) -> Ref:
    """The area a reference formula designates from the cell it is written in."""
    node = p(formula, row, col)
    assert type(node) is RefNode, node
    return node.at(row, col)


# -- precedence ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("formula", "tree"), [
    # negation binds tighter than ^: -2^2 is (-2)^2 = 4
    ("=-2^2", Binary("^", Unary("-", lit(2)), lit(2))),
    # ^ is left-associative in Excel: 2^3^2 is (2^3)^2 = 64
    ("=2^3^2", Binary("^", Binary("^", lit(2), lit(3)), lit(2))),
    # % binds tighter than * and ^
    ("=2*3%", Binary("*", lit(2), Percent(lit(3)))),
    ("=1%^2", Binary("^", Percent(lit(1)), lit(2))),
    ("=5%%", Percent(Percent(lit(5)))),
    # & sits below + and -: 1+2&3 is "3"&"3"
    ("=1+2&3", Binary("&", Binary("+", lit(1), lit(2)), lit(3))),
    ('="a"&1-2', Binary("&", lit("a"), Binary("-", lit(1), lit(2)))),
    # comparison comes last, below &
    ("=1&2=12", Binary("=", Binary("&", lit(1), lit(2)), lit(12))),
    ("=1+2=3", Binary("=", Binary("+", lit(1), lit(2)), lit(3))),
    ("=1<>2<3", Binary("<", Binary("<>", lit(1), lit(2)), lit(3))),
    # * above +, left to right within a level
    ("=1+2*3", Binary("+", lit(1), Binary("*", lit(2), lit(3)))),
    ("=8/4/2", Binary("/", Binary("/", lit(8), lit(4)), lit(2))),
    ("=1-2-3", Binary("-", Binary("-", lit(1), lit(2)), lit(3))),
    ("=(1+2)*3", Binary("*", Binary("+", lit(1), lit(2)), lit(3))),
    # stacked signs
    ("=3-+-2", Binary("-", lit(3), Unary("+", Unary("-", lit(2))))),
    ("=--TRUE", Unary("-", Unary("-", lit(True)))),
    # negation above %: -A1% is -(A1%)
    ("=-5%", Unary("-", Percent(lit(5)))),
    ("=2^-1", Binary("^", lit(2), Unary("-", lit(1)))),
])
def test_operator_precedence(formula, tree):
    assert p(formula) == tree


def test_reference_operators_bind_tighter_than_negation():
    tree = p("=-A1:B2 B2:C3")
    assert type(tree) is Unary
    assert tree.operand.op == " "
    assert p("=-INDEX(A1:A2,1):A3").operand.op == ":"


def test_space_between_references_is_the_intersection_operator():
    tree = p("=A1:B2 B2:C3")
    assert type(tree) is Binary and tree.op == " "
    assert tree.left == p("=A1:B2") and tree.right == p("=B2:C3")


@pytest.mark.parametrize("formula", [
    "=SUM(A1, B1)", "=SUM( A1 )", "=SUM(A1 )", "= A1 + B1 ", "=A1\n+\nB1",
    "=IF(\n\nA1=1,\n\n1,\n\n2 )",
])
def test_whitespace_that_is_not_an_intersection_is_ignored(formula):
    assert all(type(n) is not Binary or n.op != " " for n in walk(p(formula)))


def test_union_in_parentheses_and_as_argument():
    assert p("=(A1,B2)") == Union((p("=A1"), p("=B2")))
    tree = p("=SUM((A1,B2),C3)")
    assert type(tree) is Call and len(tree.args) == 2
    assert type(tree.args[0]) is Union and tree.args[1] == p("=C3")


# -- literals ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("formula", "value"), [
    ("=1e3", 1000.0), ("=.5", 0.5), ("=1.5E-3", 0.0015), ("=007", 7.0),
    ('=" a"" b"', ' a" b'), ('=""', ""), ("=TRUE", True), ("=false", False),
    ("=#N/A", NA), ("=#VALUE!", VALUE), ("=#REF!", REF),
])
def test_literals(formula, value):
    assert p(formula) == Literal(value)


def test_array_constant_rows_columns_and_item_types():
    assert p('={1,-2;"a",TRUE}') == ArrayLiteral(((1.0, -2.0), ("a", True)))
    assert p("={1;2;3}") == ArrayLiteral(((1.0,), (2.0,), (3.0,)))
    assert p("={#N/A,+1.5}") == ArrayLiteral(((NA, 1.5),))


def test_missing_arguments_are_kept_as_missing():
    tree = p("=IF(A1,,)")
    assert tree.args[1:] == (Missing(), Missing())
    assert p("=PI()") == Call("PI", ())


@pytest.mark.parametrize(("formula", "name"), [
    ("=sum(1)", "SUM"), ("=_xlfn.STDEV.S(1)", "STDEV.S"), ("=_xlfn._xlws.SORT(1)", "SORT"),
    ("=_xlfn.CONCAT(1)", "CONCAT"), ("=LOG10(1)", "LOG10"), ("=Norm.S.Inv(1)", "NORM.S.INV"),
])
def test_function_names_are_upper_case_without_future_function_prefixes(formula, name):
    assert p(formula).name == name


def test_names_and_sheet_qualified_names():
    assert p("=Rate") == Name("RATE", "Sheet1")
    assert p("=Sheet2!Rate") == Name("RATE", "Sheet2", explicit_sheet=True)
    assert p("=my.rate_2") == Name("MY.RATE_2", "Sheet1")


def test_at_sign_is_implicit_intersection():
    assert p("=@A1:A3") == Call("SINGLE", (p("=A1:A3"),))


# -- references ----------------------------------------------------------------------------------

def test_relative_references_are_stored_as_offsets_so_copies_share_a_tree():
    # =A1 in B2 and =B2 in C3 are the same R1C1 formula R[-1]C[-1]
    assert p("=A1", 2, 2) == p("=B2", 3, 3)
    assert p("=A1", 2, 2).at(5, 5) == Ref("Sheet1", 4, 4, 4, 4)
    assert p("=$A$1", 2, 2) == RefNode("Sheet1", 1, 1, 1, 1, ALL_FIXED)
    mixed = p("=$A1", 3, 3)  # column anchored, row relative
    assert mixed.at(7, 9) == Ref("Sheet1", 5, 1, 5, 1)


@pytest.mark.parametrize(("formula", "ref"), [
    ("=A1", Ref("Sheet1", 1, 1, 1, 1)),
    ("=b2:$C$4", Ref("Sheet1", 2, 2, 4, 3)),
    ("=B2:A1", Ref("Sheet1", 1, 1, 2, 2)),  # corners in any order
    ("=A:C", Ref("Sheet1", 1, 1, MAX_ROW, 3)),
    ("=$B:$B", Ref("Sheet1", 1, 2, MAX_ROW, 2)),
    ("=3:5", Ref("Sheet1", 3, 1, 5, MAX_COL)),
    ("=XFD1048576", Ref("Sheet1", MAX_ROW, MAX_COL, MAX_ROW, MAX_COL)),
    ("='My Sheet'!A1", Ref("My Sheet", 1, 1, 1, 1)),
    ("='It''s'!B2:B3", Ref("It's", 2, 2, 3, 2)),
    ("=Sheet2!$A$1:B2", Ref("Sheet2", 1, 1, 2, 2)),
])
def test_reference_areas(formula, ref):
    assert area(formula) == ref


def test_whole_columns_keep_their_full_height_when_copied():
    assert area("=A:A", 50, 3) == Ref("Sheet1", 1, 1, MAX_ROW, 1)
    assert area("=2:2", 9, 9) == Ref("Sheet1", 2, 1, 2, MAX_COL)


@pytest.mark.parametrize("formula", ["=XFE1", "=A1048577", "=Nowhere!A1", "=Sheet1!#REF!"])
def test_references_off_the_sheet_or_to_unknown_sheets_are_ref_errors(formula):
    node = p(formula)
    assert type(node) is BadRef and node.error is REF and not node.external


@pytest.mark.parametrize("formula", ["=[1]Sheet1!A1", "='[1]My Sheet'!A1", "=[2]Data!$B$3"])
def test_external_references_are_flagged(formula):
    node = p(formula)
    assert type(node) is BadRef and node.external


def test_three_d_reference_is_the_same_area_on_each_sheet_between_in_tab_order():
    sheets = ("Sheet1", "Jan", "Feb", "Mar", "Summary")
    tree = parse("=SUM(Jan:Mar!B1:B2)", "Summary", 1, 1, sheet_names=sheets)
    assert [item.at(1, 1) for item in tree.args[0].items] == [
        Ref(s, 1, 2, 2, 2) for s in ("Jan", "Feb", "Mar")]
    backwards = parse("=SUM(Mar:Jan!B1)", "Summary", 1, 1, sheet_names=sheets)
    assert [item.sheet for item in backwards.args[0].items] == ["Jan", "Feb", "Mar"]
    bad = parse("=Jan:Nope!A1", "Summary", sheet_names=sheets)
    assert type(bad) is BadRef and bad.error is REF


def test_range_built_from_index_keeps_the_colon_operator():
    tree = p("=INDEX(A1:A5,2):C5")
    assert type(tree) is Binary and tree.op == ":"
    assert type(tree.left) is Call and tree.left.name == "INDEX"


# -- structured references -----------------------------------------------------------------------

TABLE = Table("Sales", "Sheet1", Ref("Sheet1", 2, 2, 7, 4), ["Item", "Amount", "Tax"],
              header_rows=1, totals_rows=1)


def structured(formula: str, row: int = 4, col: int = 6) -> Ref:
    resolver = make_resolver({"SALES": TABLE})
    node = parse(formula, "Sheet1", row, col, resolver, SHEETS)
    assert type(node) is RefNode, node
    return node.at(row, col)


@pytest.mark.parametrize(("formula", "ref"), [
    ("=Sales[Amount]", Ref("Sheet1", 3, 3, 6, 3)),  # data rows only, no header or totals
    ("=sales[amount]", Ref("Sheet1", 3, 3, 6, 3)),  # names are case-insensitive
    ("=Sales[#All]", Ref("Sheet1", 2, 2, 7, 4)),
    ("=Sales[]", Ref("Sheet1", 3, 2, 6, 4)),
    ("=Sales[#Headers]", Ref("Sheet1", 2, 2, 2, 4)),
    ("=Sales[[#Totals],[Amount]]", Ref("Sheet1", 7, 3, 7, 3)),
    ("=Sales[[#Headers],[#Data],[Tax]]", Ref("Sheet1", 2, 4, 6, 4)),
    ("=Sales[[Amount]:[Tax]]", Ref("Sheet1", 3, 3, 6, 4)),
    ("=Sales[@Amount]", Ref("Sheet1", 4, 3, 4, 3)),  # the formula's own row
    ("=Sales[[#This Row],[Tax]]", Ref("Sheet1", 4, 4, 4, 4)),
])
def test_structured_references(formula, ref):
    assert structured(formula) == ref


def test_structured_reference_errors():
    resolver = make_resolver({"SALES": TABLE})
    outside = parse("=Sales[@Amount]", "Sheet1", 20, 6, resolver, SHEETS)
    assert outside == BadRef("Sales[@Amount]", VALUE)  # no row of the table there
    assert parse("=Sales[Nope]", "Sheet1", 4, 6, resolver, SHEETS).error is REF
    assert parse("=Other[Amount]", "Sheet1", 4, 6, resolver, SHEETS).error is REF


def test_unqualified_structured_reference_inside_the_table():
    resolver = make_resolver({"SALES": TABLE})
    node = parse("=[@Amount]*2", "Sheet1", 5, 4, resolver, SHEETS)
    assert node.left.at(5, 4) == Ref("Sheet1", 5, 3, 5, 3)


# -- syntax errors -------------------------------------------------------------------------------

@pytest.mark.parametrize("formula", [
    "=", "=1+", "=(1", "=1)", "=SUM(1", "=SUM(1;2)", '="abc', "=1 2", "={1,2;3}", "={A1}",
    "={1+1}", "=Sheet1!", "=SUM(1,2))", "=*2", "=1+*2",
])
def test_malformed_formulas_raise_syntax_errors(formula):
    with pytest.raises(FormulaSyntaxError):
        p(formula)


# -- copy detection ------------------------------------------------------------------------------

def test_shape_key_identifies_copies_of_one_formula():
    assert shape_key("=A1+$B$2", 1, 3) == shape_key("=A2+$B$2", 2, 3)
    assert shape_key("=A1+$B$2", 1, 3) != shape_key("=A1+$B$2", 2, 3)
    # text inside strings and quoted sheet names is not a reference
    assert shape_key('="A1"&\'A1\'!A1', 1, 2) == shape_key('="A1"&\'A1\'!A2', 2, 2)
    assert shape_key('="A1"&B1', 1, 2) != shape_key('="A2"&B2', 2, 2)
    # structured references depend on the row in ways offsets do not capture
    assert shape_key("=Sales[@Amount]", 4, 6) is None
