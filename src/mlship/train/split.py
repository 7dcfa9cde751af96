"""Which rows are held out: a function of each row alone, as TFX's ExampleGen hash split.

A row's 64-bit digest is the value of a declared key column, or else the row's content
over every column of its table, sorted by name. The digest, mixed with the split's
seed, gives a number in [0, 1); the row is held out when that number is below
``test_size``. So adding or removing rows never moves another row to the other side,
identical rows (or rows sharing a key) always fall on the same side, and a model
trained on an older version of the table is never scored on its own training rows.

Values are normalised before hashing, so that a column read differently next time
does not change every digest: numbers and booleans count as float64 (``1``, ``1.0``
and ``True`` are the same value, ``-0.0`` is ``0.0``), a missing value is missing
whatever its spelling (``NaN``, ``None``, ``NA``, ``NaT``), and anything else counts
as its text. A column that gains a word among its numbers becomes text, and a table
that gains a column changes every content digest: a declared key avoids both.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from pandas.util import hash_pandas_object

#: splitmix64's increment and multipliers (Steele, Lea and Flood, 2014).
_GOLDEN = 0x9E3779B97F4A7C15
_MULTIPLIERS = (np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))
_SHIFTS = (np.uint64(30), np.uint64(27), np.uint64(31))
#: Kinds of values (pandas' ``infer_dtype``) an object column of numbers can hold.
_NUMBER_KINDS = {"integer", "floating", "mixed-integer-float", "decimal", "boolean", "empty"}
#: Kinds of an object column that may hold text and numbers together.
_MIXED_KINDS = {"mixed", "mixed-integer"}


def digest_columns(table: pd.DataFrame, key: str | None = None) -> list[str]:
    """The columns a row's digest covers: ``[key]``, or every column of ``table`` sorted by name."""
    return [key] if key is not None else sorted(str(c) for c in table.columns)


def row_digests(table: pd.DataFrame, key: str | None = None) -> np.ndarray:
    """A uint64 digest of each row of ``table``: of its ``key`` value, else of its content.

    To digest rows the way a recorded split did, pass its key, or the table restricted
    to its recorded columns.
    """
    columns = digest_columns(table, key)
    named = {str(c): c for c in table.columns}
    normalised = pd.DataFrame({name: _normalised(table[named[name]]) for name in columns})
    return hash_pandas_object(normalised, index=False).to_numpy(dtype=np.uint64)


def held_out(digests: np.ndarray, test_size: float, seed: int) -> np.ndarray:
    """True for each row whose digest, mixed with ``seed``, falls below ``test_size`` in [0, 1)."""
    keyed = np.asarray(digests, dtype=np.uint64) ^ _mix(np.uint64(((seed + 1) * _GOLDEN) % 2**64))
    uniform = (_mix(keyed) >> np.uint64(11)).astype(np.float64) * 2.0**-53
    return uniform < test_size


def _mix(z: np.ndarray | np.uint64) -> np.ndarray:
    """splitmix64's finaliser: every input bit flips each output bit with probability about 1/2."""
    with np.errstate(over="ignore"):
        z = (z ^ (z >> _SHIFTS[0])) * _MULTIPLIERS[0]
        z = (z ^ (z >> _SHIFTS[1])) * _MULTIPLIERS[1]
        return z ^ (z >> _SHIFTS[2])


def _normalised(column: pd.Series) -> np.ndarray | pd.Categorical:
    """``column`` in a form whose hash ignores incidental dtype changes (see the module's docstring).

    pandas hashes a text column's missing values, and a categorical's, as one fixed value,
    and a categorical's other values as the values themselves.
    """
    if isinstance(column.dtype, pd.CategoricalDtype):
        column = column.astype(object)
    if pd.api.types.is_bool_dtype(column) or (pd.api.types.is_numeric_dtype(column)
                                              and not pd.api.types.is_complex_dtype(column)):
        return _numbers(column.to_numpy(dtype=np.float64, na_value=np.nan))
    kind = pd.api.types.infer_dtype(column, skipna=True)
    if kind in _NUMBER_KINDS:
        return _numbers(column.astype(np.float64).to_numpy())
    values = column.astype(object).to_numpy()
    if kind == "string":
        return values
    missing = pd.isna(values)
    if kind in _MIXED_KINDS:  # numbers among text: each is written as the float it equals, so 1 and True stay alike
        number = np.array([isinstance(v, numbers.Real) for v in values], dtype=bool) & ~missing
        if (number | missing).all():
            return _numbers(values.astype(np.float64))
        text = np.array([repr(float(v)) if n else str(v) for v, n in zip(values, number)], dtype=object)
    else:
        text = values.astype(str).astype(object)
    return np.where(missing, None, text)


def _numbers(values: np.ndarray) -> np.ndarray | pd.Categorical:
    values = values + 0.0  # -0.0 becomes 0.0
    return pd.Categorical(values) if np.isnan(values).any() else values
