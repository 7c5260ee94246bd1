"""The register machine's instruction set, shared by the lowering pass and the virtual machines.

An instruction is one row of an int64 matrix: ``[op, dst, a, b, c, d]``. Operands ``a``..``d`` are
register numbers unless the opcode says otherwise (a constant index, an argument-list offset and
count, a table number, a function code). Every register holds one float64 and one error code per
iteration of a block; an instruction is one tight loop over the block.
"""

from __future__ import annotations

from engine.errors import CALC, DIV0, NA, NAME, NULL, NUM, REF, VALUE, XLError

# Error codes carried per iteration (0: no error); the order of Excel's ERROR.TYPE.
ERROR_CODES: dict[XLError, int] = {NULL: 1, DIV0: 2, VALUE: 3, REF: 4, NAME: 5, NUM: 6, NA: 7,
                                   CALC: 8}
ERRORS_BY_CODE: dict[int, XLError] = {v: k for k, v in ERROR_CODES.items()}
E_DIV0, E_VALUE, E_REF, E_NUM, E_NA = 2, 3, 4, 6, 7

# --- opcodes ----------------------------------------------------------------------------------
CONST = 0       # dst <- consts[a] (error code consts_err[a])
INPUT = 1       # dst <- input column a of the block
COPY = 2        # dst <- a
ADD, SUB, MUL, DIV, POW = 3, 4, 5, 6, 7
EQ, NE, LT, LE, GT, GE = 8, 9, 10, 11, 12, 13
NEG, PCT = 14, 15
UNARY = 16      # dst <- f_c(a); c selects the function (U_* below)
BINARY = 17     # dst <- g_c(a, b); c selects the function (B_* below)
IF = 18         # dst <- a ? b : c
IFERROR = 19    # dst <- a unless a is an error, else b
IFNA = 20       # dst <- a unless a is #N/A, else b
REDUCE = 21     # dst <- reduction c over registers arglist[a : a + b] (R_* below)
NPV = 22        # dst <- NPV(rate a, values arglist[b : b + c])
IRR = 23        # dst <- IRR(values arglist[a : a + b], guess register c)
PMT = 24        # dst <- PMT(arglist[a], ..., arglist[a + 4]) (rate, nper, pv, fv, type)
INDEX = 25      # dst <- table a at (row b, column c), 1-based; d: positions for index 0
CHOOSE = 26     # dst <- arglist[b + idx - 1] with idx from register a, c choices
LOOKUP = 27     # dst <- table a searched for register b; d: mode (L_*), c: result column
NOT = 28
SELECT = 29     # like IF but the condition must be a logical test already: dst <- a!=0 ? b : c
PYCALL = 30     # dst <- Python fallback a, reading registers arglist[b : b + c] (not in Numba)

# UNARY functions
U_ABS, U_SQRT, U_EXP, U_LN, U_LOG10, U_INT, U_TRUNC, U_SIGN = 0, 1, 2, 3, 4, 5, 6, 7
U_SIN, U_COS, U_TAN, U_ATAN, U_NORMSINV, U_NORMSDIST, U_EVEN, U_ODD = 8, 9, 10, 11, 12, 13, 14, 15
U_ASIN, U_ACOS, U_SINH, U_COSH, U_TANH, U_FACT = 16, 17, 18, 19, 20, 21

# BINARY functions
B_MOD, B_ROUND, B_ROUNDUP, B_ROUNDDOWN, B_LOG, B_ATAN2, B_MIN, B_MAX = 0, 1, 2, 3, 4, 5, 6, 7
B_AND, B_OR, B_XOR, B_TRUNC, B_QUOTIENT, B_MROUND = 8, 9, 10, 11, 12, 13

# REDUCE reductions
R_SUM, R_PRODUCT, R_MIN, R_MAX, R_AVERAGE, R_COUNT, R_AND, R_OR, R_SUMSQ = 0, 1, 2, 3, 4, 5, 6, 7, 8

# LOOKUP modes
L_EXACT, L_SORTED, L_DESCENDING = 0, 1, 2
