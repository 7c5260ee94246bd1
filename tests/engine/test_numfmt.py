"""Excel number-format rendering (engine.numfmt), values as Excel's TEXT shows them."""

import pytest

from engine.errors import VALUE
from engine.numfmt import format_fixed, format_value, general_display


@pytest.mark.parametrize("value, fmt, expected", [
    (1234.567, "0", "1235"),
    (1234.567, "0.00", "1234.57"),
    (0.125, "0.00", "0.13"),
    (1234567.891, "#,##0", "1,234,568"),
    (1234567.891, "#,##0.00", "1,234,567.89"),
    (0, "#,##0", "0"),
    (0.256, "0%", "26%"),
    (0.2567, "0.0%", "25.7%"),
    (-1234.5, "$#,##0.00", "-$1,234.50"),
    (12345.678, "0.00E+00", "1.23E+04"),
    (0.00012, "0.00E+00", "1.20E-04"),
    (9.999, "0.00E+00", "1.00E+01"),
    (12345.678, "##0.0E+0", "12.3E+3"),
    (0, "#.00", ".00"),
    (1.9, "#.00", "1.90"),
    (5, "00000", "00005"),
    (123456789, "000-00-0000", "123-45-6789"),
    (1234567, "0,", "1235"),
    (1234567, '#,##0,,"M"', "1M"),
    (1e20, "#,##0", "100,000,000,000,000,000,000"),
    (-5, "0;(0)", "(5)"),
    (0, '0;(0);"zero"', "zero"),
    (-0.2, "0", "-0"),
    (5, '"x"0\\y', "x5y"),
    (3, "[Red]0.00", "3.00"),
    (1.75, "# ?/?", "1 3/4"),
    (0.3333, "?/?", "1/3"),
    (1.5, "# ?/8", "1 4/8"),
    (1234.5, "General", "1234.5"),
])
def test_numbers(value, fmt, expected):
    assert format_value(float(value), fmt) == expected


@pytest.mark.parametrize("value, fmt, expected", [
    (45000.75, "yyyy-mm-dd", "2023-03-15"),
    (45000.75, "dd/mm/yyyy", "15/03/2023"),
    (45000.75, "mmm d, yyyy", "Mar 15, 2023"),
    (45000.75, "mmmm", "March"),
    (45000.75, "mmmmm", "M"),
    (45000.75, "dddd", "Wednesday"),
    (45000.75, "ddd", "Wed"),
    (45000.75, "yy", "23"),
    (45000.75, "h:mm AM/PM", "6:00 PM"),
    (45000.25, "h:mm A/P", "6:00 A"),
    (45000.75, "hh:mm:ss", "18:00:00"),
    (1.5, "[h]:mm", "36:00"),
    (0.5, "h:mm:ss.00", "12:00:00.00"),
    (1234.567, "YYYY-MM-DD HH:MM:SS", "1903-05-18 13:36:29"),
    (60, "yyyy-mm-dd", "1900-02-29"),
    (0, "yyyy-mm-dd ddd", "1900-01-00 Sat"),
    (0.999999, "hh:mm:ss", "00:00:00"),
])
def test_dates(value, fmt, expected):
    assert format_value(float(value), fmt) == expected


def test_dates_out_of_range_are_value_errors():
    assert format_value(-1.0, "yyyy") is VALUE
    assert format_value(2958466.0, "yyyy") is VALUE


def test_text_sections():
    assert format_value("abc", "@") == "abc"
    assert format_value("abc", '0;0;0;"t:"@') == "t:abc"
    assert format_value("abc", "0.00") == "abc"
    assert format_value("abc", '"<"@">"') == "<abc>"


@pytest.mark.parametrize("value, expected", [
    (1 / 3, "0.333333333"), (3.14159265358979, "3.141592654"), (123456789012, "1.23457E+11"),
    (1e-5, "0.00001"), (1.234e-7, "1.234E-07"), (-1 / 3, "-0.33333333"), (0.1 + 0.2, "0.3"),
    (0, "0"),
])
def test_general_display(value, expected):
    assert general_display(value) == expected


def test_format_fixed():
    assert format_fixed(1234.567, 1, True) == "1,234.6"
    assert format_fixed(1234.567, -1, True) == "1,230"
    assert format_fixed(1234.567, -128000, True) == "0"
    assert format_fixed(44.332, 0, False) == "44"
    assert format_fixed(1.23456789076754e20, 2, True) == "123,456,789,076,754,000,000.00"
