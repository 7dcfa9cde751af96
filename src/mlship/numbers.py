"""Numbers as a reviewer reads them: to significant digits, the same way everywhere.

A metric's value shows four decimals below 10 (0.8123, 1.0000: scores on a 0 to 1 scale
line up), four significant digits above (12.34, 107.6) and large values their whole part
(32,346); its changes and their intervals use the decimals of the value
they change, so ``rmse 32,346 → 36,122 (▲ +3,776)`` and ``[+881, +4,560]``, never
``−107.6051`` beside 32k nor ``-2.133e-05``. A change too small to show at that
precision keeps one significant digit (−0.00002), so it never reads as zero.
"""

from __future__ import annotations

import math

#: Significant digits of a value.
DIGITS = 4
#: The most decimals ever shown.
MAX_DECIMALS = 10
MINUS = "−"


def decimals(scale: float) -> int:
    """Decimals for numbers of this size: :data:`DIGITS` of them below 10, else as many as give
    :data:`DIGITS` significant digits (none from 1,000 up)."""
    if not math.isfinite(scale) or abs(scale) < 10:
        return DIGITS
    return significant_decimals(scale, DIGITS)


def significant_decimals(value: float, digits: int) -> int:
    """Decimals that show ``digits`` significant digits of ``value``."""
    if not math.isfinite(value) or value == 0:
        return digits
    return min(MAX_DECIMALS, max(0, digits - 1 - math.floor(math.log10(abs(value)))))


def number(value: float, scale: float | None = None, sign: bool = False) -> str:
    """``value`` with the decimals of ``scale``, thousands separated, so that numbers shown together
    (a value, its change, the interval) line up; without ``scale``, to its own significant digits
    with trailing zeros dropped (0.05, 0.3, 32,346). ``sign`` puts + before a positive value.
    A minus is always the typographic one."""
    if not math.isfinite(value):
        return str(value)
    places = decimals(value if scale is None else scale)
    text = f"{abs(value):,.{places}f}"
    if value != 0 and float(text.replace(",", "")) == 0:  # too small for the scale: one significant digit
        text = f"{abs(value):,.{significant_decimals(value, 1)}f}"
    if scale is None and "." in text:
        text = text.rstrip("0").rstrip(".")
    return (MINUS if value < 0 and float(text.replace(",", "")) else "+" if sign and value > 0 else "") + text


def together(values: list[float], sign: bool = False) -> list[str]:
    """Numbers shown side by side (an interval's ends) with the same decimals: those of the largest,
    less the trailing zeros they all have (``[+881, +4,560]``, ``[−0.0696, −0.0304]``)."""
    finite = [abs(v) for v in values if math.isfinite(v)]
    texts = [number(v, max(finite, default=0.0), sign) for v in values]
    while all("." in t and t.endswith("0") for t in texts if t[-1:].isdigit()) and any("." in t for t in texts):
        texts = [t[:-1].rstrip(".") if "." in t and t[-1:].isdigit() else t for t in texts]
    return texts
