"""Distributions and tests; expected values are Excel's own (formulas/test.xlsx)."""

import pytest
from scipy import stats

from engine.api import evaluate_formula
from engine.errors import DIV0, NA, NUM, VALUE
from engine.values import Array


def ev(formula, cells=None, array=False):
    return evaluate_formula(formula, cells, array=array)


@pytest.mark.parametrize("formula, expected", [
    ("=NORM.DIST(-0.1,1,2,FALSE)", 0.17147192750969195),
    ("=NORM.DIST(0.7,\"1\",\"3\",5)", 0.460172162722971),
    ("=NORMDIST(3,-1,2,\"TRUE\")", 0.9772498680518208),
    ("=NORM.INV(0.4,2,0.7)", 1.82265702780494),
    ("=NORMINV(0.002,4,3)", -4.634485217286448),
    ("=NORM.S.DIST(-0.1,FALSE)", 0.3969525474770118),
    ("=NORM.S.DIST(4,1)", 0.9999683287581669),
    ("=NORMSDIST(1)", 0.841344746068543),
    ("=NORM.S.INV(0.7)", 0.5244005127080408),
    ("=NORMSINV(0.002)", -2.8781617390954826),
    ("=PHI(2.3)", 0.028327037741601186),
    ("=GAUSS(0.1)", 0.03982783727702899),
    ("=LOGNORM.DIST(5,1,2,FALSE)", 0.038084403129689026),
    ("=LOGNORM.DIST(0.7,1,3,TRUE)", 0.32555345664186924),
    ("=LOGNORMDIST(3,-1,2)", 0.8529813804934137),
    ("=LOGNORM.INV(0.1,2,2)", 0.5694392746085291),
    ("=LOGINV(0.002,4,3)", 0.009711104860754742),
    ("=BETA.DIST(0.7,\"1\",\"3\",5,0.5,5)", 0.12749519890260627),
    ("=BETA.INV(0.1,2,2)", 0.19580010565909176),
    ("=BETAINV(0.4,2,0.7)", 0.7332922921466927),
    ("=BETADIST(0.5,2,2)", 0.5),
    ("=GAMMA.DIST(5,10,30,FALSE)", 7.715641587812937e-15),
    ("=GAMMADIST(0.7,1,5,TRUE)", 0.13064176460119417),
    ("=GAMMA.INV(0.1,90,9)", 702.6868178036511),
    ("=GAMMAINV(0.01,100,2)", 156.43196610759165),
    ("=GAMMA(0.1)", 9.513507698668732),
    ("=GAMMA(-0.1)", -10.686287021193195),
    ("=GAMMALN(0.1)", 2.2527126517342055),
    ("=GAMMALN.PRECISE(TRUE)", 0),
])
def test_continuous(formula, expected):
    assert ev(formula) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("formula, expected", [
    ("=T.DIST(5,10,FALSE)", 0.0003960010564637988),
    ("=T.DIST(0.7,\"1\",5)", 0.6944001122142147),
    ("=T.DIST.2T(4,7)", 0.0051899133492968146),
    ("=T.DIST.RT(5,10)", 0.0002686668013782261),
    ("=TDIST(4,7.9,2)", 0.0051899133492968146),       # degrees of freedom truncated
    ("=T.INV(0.1,9)", -1.383028738396632),
    ("=T.INV.2T(0.01,100)", 2.625890521438018),
    ("=TINV(0.1,4)", 2.13184678632665),
    ("=CHISQ.DIST(5,10,FALSE)", 0.06680094289054264),
    ("=CHISQ.DIST(4,7,1)", 0.22022259152428414),
    ("=CHISQ.DIST.RT(0.7,1)", 0.4027836942464757),
    ("=CHIDIST(4,7)", 0.7797774084757159),
    ("=CHISQ.INV(0.1,9)", 4.168159008146107),
    ("=CHISQ.INV(0,3)", 0),
    ("=CHISQ.INV.RT(0.01,100)", 135.8067231710268),
    ("=CHIINV(0.1,4)", 7.779440339734858),
    ("=F.DIST(5,10,30,FALSE)", 0.0004522453662535341),
    ("=F.DIST(0.7,\"1\",5,3)", 0.5590753759302287),
    ("=F.DIST.RT(5,10,65)", 2.3172483433474348e-05),
    ("=F.INV(0.1,90,9)", 0.5875257721802675),
    ("=F.INV(0,3,2.22)", 0),
    ("=F.INV.RT(0.1,9,34)", 1.8224282565178647),
    ("=FINV(0.01,100,2)", 99.48916280843338),
])
def test_t_chi_f(formula, expected):
    assert ev(formula) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("formula, expected", [
    ("=BINOM.DIST(0,,,)", 1),
    ("=BINOM.DIST(5,10,0.2,FALSE)", 0.026424115200000015),
    ("=BINOMDIST(0.7,\"1\",\".3\",5)", 0.7),
    ("=BINOM.DIST(4,7,0.4,1)", 0.903744),
    ("=BINOM.DIST.RANGE(5,0.1,0.2,FALSE)", 0.59049),
    ("=BINOM.DIST.RANGE(4,0.7,0.4,1)", 0.0837),
    ("=BINOM.DIST.RANGE(10,0.5,3)", 0.1171875),
    ("=BINOM.INV(10,0.4,0.4)", 4),
    ("=CRITBINOM(100,0.4,0.3)", 37),
    ("=BINOM.INV(0,0.3,0.2)", 0),
    ("=NEGBINOM.DIST(5,10,0.2,FALSE)", 6.717597286399994e-05),
    ("=NEGBINOM.DIST(0.7,\"1\",\".3\",5)", 0.3),
    ("=NEGBINOMDIST(0,1,0.3)", 0.3),
    ("=HYPGEOM.DIST(0,,,,)", 1),
    ("=HYPGEOM.DIST(0.7,\"1\",5,8,3)", 0.375),
    ("=HYPGEOM.DIST(5,3,2,30,TRUE)", 1),              # beyond the support: cumulative 1
    ("=HYPGEOM.DIST(0,2,3,3,TRUE)", 0),
    ("=HYPGEOMDIST(1,4,8,20)", 0.3632610939112487),
    ("=POISSON.DIST(0,,)", 1),
    ("=POISSON.DIST(5,10,FALSE)", 0.037833274802070715),
    ("=POISSON(4,7,1)", 0.17299160788207132),
    ("=EXPON.DIST(5,10,FALSE)", 1.9287498479639177e-21),
    ("=EXPONDIST(0.7,1,5)", 0.5034146962085905),
    ("=WEIBULL.DIST(0.7,\"1\",\"3\",5)", 0.2081104336632183),
    ("=WEIBULL(105,20,100,TRUE)", 0.929581390069717),
    ("=WEIBULL.DIST(105,20,100,FALSE)", 0.035588864025938),
])
def test_discrete_and_others(formula, expected):
    assert ev(formula) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("formula, expected", [
    ("=NORM.DIST(0,,,)", NUM),                  # sd 0
    ("=NORM.INV(0,4,4)", NUM), ("=NORM.INV(1,4,4)", NUM),
    ("=NORM.S.DIST(0.7,\"1\")", VALUE),          # "1" is no logical
    ("=NORM.S.INV(4)", NUM),
    ("=LOGNORM.DIST(0,0,4,1)", NUM), ("=LOGNORM.INV(0.5,1,0)", NUM),
    ("=BETA.DIST(5,1,2,FALSE)", NUM), ("=BETA.DIST(0.5,0,0,1)", NUM),
    ("=BETA.INV(0,4,4)", NUM), ("=BETA.INV(1,3,2)", NUM),
    ("=GAMMA.DIST(0,0,4,1)", NUM), ("=GAMMA.INV(1,3,2)", NUM),
    ("=GAMMA(0)", NUM), ("=GAMMA(-2)", NUM), ("=GAMMALN(-0.1)", NUM),
    ("=T.DIST(0,0,FALSE)", DIV0), ("=T.DIST(0,0,TRUE)", NUM), ("=T.DIST(3,-1,TRUE)", NUM),
    ("=T.DIST.2T(-1,3)", NUM), ("=T.INV(0,3)", NUM), ("=T.INV(0.4,0.7)", NUM),
    ("=T.INV.2T(1.5,3)", NUM), ("=TDIST(1,3,3)", NUM),
    ("=CHISQ.DIST(0,0,0)", NUM), ("=CHISQ.DIST.RT(-1,2)", NUM), ("=CHISQ.INV(0.4,0.7)", NUM),
    ("=CHISQ.INV.RT(0,3)", NUM),
    ("=F.DIST(3,-1,3,TRUE)", NUM), ("=F.INV(10,0.4,3)", NUM), ("=F.INV.RT(0,3,33)", NUM),
    ("=BINOM.DIST(3,-1,0.2,TRUE)", NUM), ("=BINOM.DIST(1,2,1.5,TRUE)", NUM),
    ("=BINOM.DIST.RANGE(3,-1,0.2)", NUM), ("=BINOM.DIST.RANGE(60,60,0,1)", NUM),
    ("=BINOM.DIST.RANGE(3,0.5,2,1)", NUM), ("=BINOM.INV(1,0.3,2)", NUM),
    ("=NEGBINOM.DIST(0,0,0,0)", NUM), ("=NEGBINOM.DIST(1,1,0,1)", NUM),
    ("=HYPGEOM.DIST(5,10,30,7,FALSE)", NUM), ("=HYPGEOM.DIST(4,3,7,4,1)", NUM),
    ("=POISSON.DIST(3,-1,TRUE)", NUM), ("=EXPON.DIST(0,0,0)", NUM),
    ("=WEIBULL.DIST(-0.1,1,2,FALSE)", NUM), ("=WEIBULL.DIST(1,0,0,1)", NUM),
])
def test_parameter_errors(formula, expected):
    assert ev(formula) is expected


@pytest.mark.parametrize("formula, expected", [
    ("=CONFIDENCE.NORM(0.7,\"1\",5)", 0.17232055120184916),
    ("=CONFIDENCE(0.9,7,1)", 0.8796294279855191),
    ("=CONFIDENCE.T(0.32,10,3)", 7.572401854185358),
    ("=CONFIDENCE.T(0.7,\"1\",5)", 0.18521944067022253),
])
def test_confidence(formula, expected):
    assert ev(formula) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("formula, expected", [
    ("=CONFIDENCE.NORM(0.32,10,FALSE)", NUM), ("=CONFIDENCE.NORM(0.4,-1,\"TRUE\")", VALUE),
    ("=CONFIDENCE.T(0.9,7,1)", DIV0), ("=CONFIDENCE.T(1,60,1)", NUM),
])
def test_confidence_errors(formula, expected):
    assert ev(formula) is expected


TEST_CELLS = {"A1": 10, "B1": 3.2, "C1": 0.7, "D1": 2, "E1": 4, "G1": "x", "H1": True,
              "A2": 1, "B2": 5, "C2": 6, "D2": 2.5}


@pytest.mark.parametrize("formula, expected", [
    ("=Z.TEST(D1:H1,H1)", 0.02275013194817919),
    ("=ZTEST(B1:C1,C1,3)", 0.2778448951413972),
    ("=Z.TEST(C1:D1,E1,2)", 0.9695232747225335),
    ("=F.TEST(B1:C1,C1:E1)", 0.7979982021244996),
    ("=CHISQ.TEST(C1:D1,E1:F1)", 0.09894293606729619),
    ("=CHISQ.TEST(B1:C1,C1:D1)", 0.0017703822336132488),
    ("=PROB({1,2,3,4,5},{0.1,0.2,0.3,0.3,0.1},0,5)", 1.0000000000000002),
    ("=PROB({1,2,3,1,5},{0.1,0.2,0.3,0.3,0.1},TRUE)", 0.4),
    ("=PROB({1,2,3,4,5},{0.1,0.2,0.3,0.3,0.1},7)", 0),
])
def test_tests(formula, expected):
    assert ev(formula, TEST_CELLS) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("formula, expected", [
    ("=Z.TEST(B1:C1,D1,0)", NUM), ("=Z.TEST(E1:G1,F1,2)", DIV0),
    ("=CHISQ.TEST(B1:C1,C1:E1)", NA), ("=CHISQ.TEST(B1,D1)", NA),
    ("=F.TEST(C1:D1,E1:F1)", DIV0),
    ("=PROB({1,2,3,4,5},{0.1,0.2,0.3,0.2,0.1},1)", NUM),
    ("=PROB({1,2,3,4,5},{0.1,0.2,0.3,0.4},1)", NA),
    ("=T.TEST(A1:B1,C1:D1,3,1)", NUM), ("=T.TEST(A1:B1,C1:E1,1,1)", NA),
])
def test_test_errors(formula, expected):
    assert ev(formula, TEST_CELLS) is expected


def test_t_test_types_and_array_of_tails():
    x, y = "{3,4,5,8,9,1,2,4,5}", "{6,19,3,2,14,4,5,17,1}"
    a, b = [3, 4, 5, 8, 9, 1, 2, 4, 5], [6, 19, 3, 2, 14, 4, 5, 17, 1]
    assert ev(f"=T.TEST({x},{y},2,1)") == pytest.approx(0.196015785, rel=1e-8)  # Excel's doc
    assert ev(f"=TTEST({x},{y},2,2)") == pytest.approx(stats.ttest_ind(a, b).pvalue, rel=1e-9)
    assert ev(f"=T.TEST({x},{y},1,3)") == \
        pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue / 2, rel=1e-9)
    result = ev(f"=T.TEST({x},{y},{{1;2}},1)", array=True)
    assert isinstance(result, Array) and result.shape == (2, 1)
    assert result.rows[1][0] == pytest.approx(2 * result.rows[0][0])


def test_distributions_lift_over_arrays():
    result = ev("=NORM.S.DIST({0,1},TRUE)", array=True)
    assert result.rows == [[0.5, pytest.approx(0.841344746068543)]]
