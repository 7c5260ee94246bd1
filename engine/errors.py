"""Excel error values and the exceptions the engine raises for unusable workbooks.

Excel errors are *values* (a cell can hold ``#DIV/0!``), so they are singletons compared by
identity, never Python exceptions. Problems with the workbook itself (not a zip, encrypted, too
big) are exceptions carrying one sentence meant for the user.
"""

from __future__ import annotations


class XLError:
    """An Excel error value such as ``#N/A``; one instance per code."""

    __slots__ = ("code",)
    _by_code: dict[str, XLError] = {}

    def __new__(cls, code: str) -> XLError:
        existing = cls._by_code.get(code)
        if existing is not None:
            return existing
        self = super().__new__(cls)
        self.code = code
        cls._by_code[code] = self
        return self

    def __repr__(self) -> str:
        return self.code

    __str__ = __repr__

    def __reduce__(self):
        return (XLError, (self.code,))

    @classmethod
    def from_code(cls, code: str) -> XLError | None:
        """The error for ``code`` (case-insensitive), or None when it is not an Excel error."""
        return cls._by_code.get(code.upper())


NULL = XLError("#NULL!")
DIV0 = XLError("#DIV/0!")
VALUE = XLError("#VALUE!")
REF = XLError("#REF!")
NAME = XLError("#NAME?")
NUM = XLError("#NUM!")
NA = XLError("#N/A")
GETTING_DATA = XLError("#GETTING_DATA")
SPILL = XLError("#SPILL!")
CALC = XLError("#CALC!")

# ERROR.TYPE numbers, in Excel's order.
ERROR_TYPE_NUMBERS = {NULL: 1, DIV0: 2, VALUE: 3, REF: 4, NAME: 5, NUM: 6, NA: 7, GETTING_DATA: 8,
                      SPILL: 9, CALC: 14}


class WorkbookError(Exception):
    """A workbook the engine cannot use; ``str()`` is one sentence for the user."""


class FormulaSyntaxError(Exception):
    """A formula that does not follow Excel's grammar."""
