"""Spotting ids and names that look like others: Unicode confusables and mixed scripts.

A skeleton maps a string to a canonical look: compatibility decomposition, accents
dropped, case folded, and characters that are drawn alike in common fonts mapped to
one Latin letter or digit. Two different strings with the same skeleton can fool a
reader. The table covers the Cyrillic and Greek letters that look Latin and the
usual digit and letter swaps; it is a subset of Unicode's confusables data
(UTS #39), enough to flag the cases a person would miss at a glance.
"""

from __future__ import annotations

import unicodedata

_CONFUSABLES = str.maketrans({
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ј": "j", "ԁ": "d", "ԛ": "q", "ԝ": "w",
    # Greek
    "α": "a", "β": "b", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
    "υ": "u", "χ": "x", "ζ": "z", "η": "n",
    # Latin and digits drawn alike
    "0": "o", "1": "l", "i": "l", "|": "l", "5": "s", "ı": "l", "ł": "l",
    "_": "-", "‐": "-", "‑": "-", "–": "-", "—": "-", "−": "-",
})


def fold(text: str) -> str:
    """Case- and accent-insensitive form for searching: "México" and "mexico" fold alike."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def skeleton(text: str) -> str:
    """The look of ``text``: folded, with confusable characters mapped and "rn" read as "m"."""
    return fold(text).translate(_CONFUSABLES).replace("rn", "m").replace("vv", "w")


def scripts(text: str) -> set[str]:
    """Unicode scripts of the letters in ``text``, from their character names (LATIN, CYRILLIC, ...)."""
    found = set()
    for char in text:
        if char.isalpha():
            found.add(unicodedata.name(char, "UNKNOWN").split(" ")[0])
    return found


def lookalike_warnings(candidate: str, existing: list[str]) -> list[str]:
    """Reasons to flag ``candidate``: mixed scripts, or the same skeleton as an existing string."""
    warnings = []
    if len(scripts(candidate)) > 1:
        warnings.append(f"mixes scripts ({', '.join(sorted(scripts(candidate)))})")
    target = skeleton(candidate)
    for other in existing:
        if other != candidate and skeleton(other) == target:
            warnings.append(f"looks like {other}")
    return warnings
