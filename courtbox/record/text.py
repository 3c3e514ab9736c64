"""Text that cannot lie: one sanitiser for what the record shows and what it accepts as a name.

A person types letters, CJK, digits, punctuation, spaces and (in free text) newlines. What
they cannot type, and what makes text show something other than it holds, is refused in
identifiers and neutralised in every export:

- C0 and C1 controls (NUL, ESC of terminal escapes, BEL, DEL, NEL …);
- the bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069) and
  marks (U+200E, U+200F, U+061C), and every other invisible format character;
- the line and paragraph separators U+2028 and U+2029, private-use and unassigned points.

``check_identifier`` refuses such a character in a case number, a user or display name, a
seat id (``BadText``, naming the field). Free text (corrections, annotations, reasons) is
stored as it came (nothing lost); ``neutral`` shows each such character as a visible
``[U+XXXX]`` in every export, a tab as a space, and a newline only where the text may have
lines.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from courtbox.errors import BadText


def _invisible(ch: str) -> bool:
    return not ch.isprintable() or unicodedata.category(ch) == "Cf"


def unsafe_characters(text: str) -> list[str]:
    """The characters of ``text`` an identifier may not hold, as ``U+XXXX``."""
    return [f"U+{ord(c):04X}" for c in dict.fromkeys(text) if _invisible(c)]


def check_identifier(field: str, value: str) -> str:
    """``value`` if it holds only what a person types on one line; else ``BadText``."""
    bad = unsafe_characters(value)
    if bad:
        raise BadText(f"{field}: control or bidirectional characters are not allowed "
                      f"({', '.join(bad[:5])})")
    return value


def neutral(text: str, *, multiline: bool = True) -> str:
    """``text`` with what a person cannot type shown as ``[U+XXXX]``; a tab is a space, a
    newline stays where ``multiline`` (else a space)."""
    if not any(_invisible(c) for c in text):
        return text
    out = []
    for c in text:
        if c == "\n":
            out.append("\n" if multiline else " ")
        elif c == "\t":
            out.append(" ")
        elif c == "\r":
            continue
        elif _invisible(c):
            out.append(f"[U+{ord(c):04X}]")
        else:
            out.append(c)
    return "".join(out)


def neutral_all(value: Any) -> Any:
    """Every string inside ``value`` (dicts, lists, dataclass fields left to the caller)
    neutralised: what an export renders from."""
    if isinstance(value, str):
        return neutral(value)
    if isinstance(value, dict):
        return {k: neutral_all(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(neutral_all(v) for v in value)
    return value
