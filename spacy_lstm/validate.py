"""Checks for settings from configs and keyword arguments, with one rule everywhere.

An integer is an `int` or a NumPy integer; a number is also a `float` or NumPy float; a bool
is neither (`True` is not a batch size, and a config typo such as `dropout = true` should not
train with dropout 1.0). Every message names the setting and shows the value given, so a
config error can be found from the message alone. No TensorFlow here: the
architectures check their settings before any network is built.
"""
import math
from numbers import Integral, Real
from typing import Any, Optional, Sequence

import numpy

__all__ = ["check_choice", "check_integer", "check_number", "is_integer", "is_number"]


def is_integer(value: Any) -> bool:
    return isinstance(value, (Integral, numpy.integer)) and not isinstance(value, (bool, numpy.bool_))


def is_number(value: Any) -> bool:
    return isinstance(value, (Real, numpy.floating, numpy.integer)) and not isinstance(value, (bool, numpy.bool_))


def _fail(name: str, requirement: str, value: Any) -> None:
    raise ValueError(f"{name} must be {requirement}, got {value!r} ({type(value).__name__})")


def _or_none(requirement: str, none: Optional[str]) -> str:
    return f"None ({none}) or {requirement}" if none else requirement


def check_integer(
    name: str, value: Any, low: Optional[int] = None, *, meaning: str = "", none: Optional[str] = None
) -> None:
    """An integer (>= low, when given). `meaning` explains special values ("0 = no limit");
    with `none`, None is allowed too and `none` says what it means."""
    if value is None and none:
        return
    if not is_integer(value) or (low is not None and value < low):
        requirement = "an integer" + (f" >= {low}" if low is not None else "") + (f" ({meaning})" if meaning else "")
        _fail(name, _or_none(requirement, none), value)


def check_number(
    name: str,
    value: Any,
    low: float,
    high: float = math.inf,
    *,
    low_open: bool = False,
    high_open: bool = False,
    meaning: str = "",
    none: Optional[str] = None,
) -> None:
    """A finite number in the range from low to high (each end closed unless `*_open`)."""
    if value is None and none:
        return
    ok = is_number(value) and math.isfinite(float(value))
    if ok:
        v = float(value)
        ok = (v > low if low_open else v >= low) and (v < high if high_open else v <= high)
    if not ok:
        if math.isinf(high):
            requirement = f"a finite number {'>' if low_open else '>='} {low:g}"
        else:
            requirement = f"a number in the range {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        requirement += f" ({meaning})" if meaning else ""
        _fail(name, _or_none(requirement, none), value)


def check_choice(name: str, value: Any, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ValueError(f"Unknown {name} '{value}'. Choose one of: {', '.join(choices)}.")
