"""Numbers in the comment and the gate messages: significant digits, the same way everywhere."""

from __future__ import annotations

import math

import pytest

from mlship.numbers import number, together
from mlship.review.report import arrow_delta, fmt


@pytest.mark.parametrize(("value", "scale", "shown"), [
    (0.81234, None, "0.8123"), (1.0, None, "1.0000"), (12.34567, None, "12.35"), (107.6051, None, "107.6"),
    (32_345.67, None, "32,346"), (-107.6051, 32_345.67, "−108"), (0.0123, 0.8, "0.0123"),
    (-2.133e-05, 0.8123, "−0.00002"), (math.inf, None, "inf"),
])
def test_a_value_shows_four_significant_digits_or_the_decimals_of_the_value_it_changes(value, scale, shown):
    assert fmt(value, scale) == shown


def test_the_issues_examples_are_shown_by_significant_digits():
    assert arrow_delta(-107.6051, 32_345.67) == "▼ −108"  # was ▼ −107.6051 beside an rmse of 32k
    assert arrow_delta(3776.4, 32_345.67) == "▲ +3,776"
    assert arrow_delta(-2.133e-05, 0.91) == "▼ −0.00002"  # was -2.133e-05
    assert together([881.3676, 4559.7], sign=True) == ["+881", "+4,560"]  # was [+881.3676, +4,559.7]
    assert together([-0.0696, -0.0304], sign=True) == ["−0.0696", "−0.0304"]


def test_a_standalone_number_drops_its_trailing_zeros_and_a_signed_one_shows_its_sign():
    assert [number(x) for x in (0.05, 0.3, 2.0, 1234.0)] == ["0.05", "0.3", "2", "1,234"]
    assert [number(x, sign=True) for x in (0.05, -0.05, 0.0)] == ["+0.05", "−0.05", "0"]
