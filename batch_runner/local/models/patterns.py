"""Strings that match a regular expression, for schema ``pattern`` keywords in emulated answers.

The pattern is parsed with Python's own regex parser and walked: literals are kept, character
classes give one of their characters, repeats take a seeded count between their bounds (at most a
few beyond the minimum), alternatives a seeded branch. JSON Schema patterns are unanchored (ECMA
262 ``search``), so the walk starts wherever the pattern does; anchors and word boundaries emit
nothing. Constructs a walk cannot honour (lookarounds, backreferences, conditionals) make
``matching_string`` return None, and the caller falls back to emulated text.
"""

from __future__ import annotations

import random
import re
import string

# The regex parser itself (private since Python 3.11, the public sre_* aliases are deprecated):
# walking its parse tree is what keeps the generated strings exactly what `re` will match.
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

_EXTRA_REPEATS = 3  # an open-ended repeat ({2,}, +, *) adds up to this many beyond its minimum
_CATEGORIES = {
    sre_constants.CATEGORY_DIGIT: string.digits,
    sre_constants.CATEGORY_NOT_DIGIT: string.ascii_letters,
    sre_constants.CATEGORY_WORD: string.ascii_letters + string.digits + "_",
    sre_constants.CATEGORY_NOT_WORD: " -.,",
    sre_constants.CATEGORY_SPACE: " ",
    sre_constants.CATEGORY_NOT_SPACE: string.ascii_letters + string.digits,
}
_REPEATS = (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, sre_constants.POSSESSIVE_REPEAT)
_PRINTABLE = string.ascii_letters + string.digits + " -_.,"


class _Unsupported(Exception):
    pass


def matching_string(pattern: str, rng: random.Random) -> str | None:
    """A string that ``re.search(pattern, ...)`` matches, or None when the walk cannot make one."""
    try:
        parsed = sre_parse.parse(pattern)
        text = "".join(_walk(list(parsed), rng))
    except (re.error, _Unsupported, RecursionError, ValueError):
        return None
    return text if re.search(pattern, text) else None


def _walk(items: list[tuple[Any, Any]], rng: random.Random) -> list[str]:
    out: list[str] = []
    for op, arg in items:
        out.extend(_item(op, arg, rng))
    return out


def _item(op: Any, arg: Any, rng: random.Random) -> list[str]:
    if op is sre_constants.LITERAL:
        return [chr(arg)]
    if op is sre_constants.NOT_LITERAL:
        return [next(c for c in _PRINTABLE if ord(c) != arg)]
    if op is sre_constants.ANY:
        return [rng.choice(string.ascii_letters)]
    if op is sre_constants.IN:
        return [_one_of(arg, rng)]
    if op in (
        sre_constants.MAX_REPEAT,
        sre_constants.MIN_REPEAT,
        getattr(sre_constants, "POSSESSIVE_REPEAT", None),
    ):
        low, high, body = arg
        top = low + _EXTRA_REPEATS if high is sre_constants.MAXREPEAT else min(high, low + _EXTRA_REPEATS)
        return [piece for _ in range(rng.randint(low, top)) for piece in _walk(list(body), rng)]
    if op is sre_constants.SUBPATTERN:
        return _walk(list(arg[-1]), rng)
    if op is sre_constants.ATOMIC_GROUP:
        return _walk(list(arg), rng)
    if op is sre_constants.BRANCH:
        return _walk(list(rng.choice(arg[1])), rng)
    if op is sre_constants.AT:
        return []
    raise _Unsupported(str(op))


def _one_of(members: list[tuple[Any, Any]], rng: random.Random) -> str:
    if members and members[0][0] is sre_constants.NEGATE:
        excluded = members[1:]
        for candidate in _PRINTABLE:
            if not any(_member_has(op, arg, candidate) for op, arg in excluded):
                return candidate
        raise _Unsupported("negated class excludes every printable character")
    op, arg = rng.choice(members)
    if op is sre_constants.LITERAL:
        return chr(arg)
    if op is sre_constants.RANGE:
        return chr(rng.randint(arg[0], arg[1]))
    if op is sre_constants.CATEGORY and arg in _CATEGORIES:
        return rng.choice(_CATEGORIES[arg])
    raise _Unsupported(str(op))


def _member_has(op: Any, arg: Any, candidate: str) -> bool:
    if op is sre_constants.LITERAL:
        return ord(candidate) == arg
    if op is sre_constants.RANGE:
        return arg[0] <= ord(candidate) <= arg[1]
    if op is sre_constants.CATEGORY:
        return candidate in _CATEGORIES.get(arg, "")
    return True  # unknown member: treat as excluding, so the candidate is skipped
