"""The cells of a CSV export (`stackkit.resources.export`): the JSON answer's values,
never a spreadsheet formula. The route is tested with the owned resources."""

from __future__ import annotations

import pytest

from stackkit.resources.export import csv_cell


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (None, ""),
        (True, "true"),
        (3, "3"),
        (-3.5, "-3.5"),
        ("-3", "-3"),
        ("-1e-3", "-1e-3"),
        (-1e20, "-1e+20"),
        ("+.5", "+.5"),
        ("-inf", "'-inf"),
        ("-nan", "'-nan"),
        ("+1_0", "'+1_0"),
        ("-\u0663", "'-\u0663"),  # an Arabic-Indic three: a number to Python only
        ("-1 ", "'-1 "),
        ("plain", "plain"),
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1+1", "'+1+1"),
        ("-1+cmd", "'-1+cmd"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        (["a", 1], '["a",1]'),
        ({"k": "é"}, '{"k":"é"}'),
    ],
)
def test_a_cell_is_the_json_value_and_never_a_formula(value: object, cell: str) -> None:
    assert csv_cell(value) == cell
