"""Chinese text as a court transcript writes it: simplified characters, full-width punctuation,
no spaces between Chinese characters; and the scoring form used for error rates.

Whisper writes Mandarin in traditional or simplified characters at random and mixes ASCII
punctuation in; OpenCC's ``t2s`` table turns everything into simplified characters.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import opencc

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_FULLWIDTH = {",": "，", "?": "？", "!": "！", ":": "：", ";": "；", "(": "（", ")": "）"}
_SPACE_BETWEEN_CJK = re.compile(rf"(?<=[{_CJK}，。？！：；、])\s+(?=[{_CJK}])|"
                                rf"(?<=[{_CJK}])\s+(?=[{_CJK}，。？！：；、])")
_ASCII_PUNCT_NEAR_CJK = re.compile(rf"(?<=[{_CJK}])\s*([,?!:;()])|([,?!:;()])\s*(?=[{_CJK}])")
_PERIOD_AFTER_CJK = re.compile(rf"(?<=[{_CJK}])\.(?!\d)")

DIGITS = "零一二三四五六七八九"
_UNITS = ["", "十", "百", "千"]
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    return _t2s().convert(text)


def normalize_zh(text: str) -> str:
    """Display form of recognised Mandarin: simplified, full-width punctuation, no stray
    spaces. Latin words and numbers are left as they are."""
    text = to_simplified(text.strip())
    text = _ASCII_PUNCT_NEAR_CJK.sub(lambda m: _FULLWIDTH[m.group(1) or m.group(2)], text)
    text = _PERIOD_AFTER_CJK.sub("。", text)
    text = _SPACE_BETWEEN_CJK.sub("", text)
    return text


def _below_10000(n: int) -> str:
    out = []
    digits = str(n)
    zero = False
    for i, d in enumerate(digits):
        unit = _UNITS[len(digits) - 1 - i]
        if d == "0":
            zero = True
            continue
        if zero and out:
            out.append("零")
        zero = False
        out.append(DIGITS[int(d)] + unit)
    return "".join(out)


def integer_to_chinese(n: int) -> str:
    """Cardinal reading: 30 → 三十, 105 → 一百零五, 12000 → 一万二千."""
    if n == 0:
        return "零"
    parts = []
    for big, unit in ((10**8, "亿"), (10**4, "万")):
        if n >= big:
            head, n = divmod(n, big)
            parts.append(integer_to_chinese(head) + unit)
            if 0 < n < big // 10:
                parts.append("零")
    if n:
        parts.append(_below_10000(n))
    text = "".join(parts)
    return text[1:] if text.startswith("一十") else text


def number_to_chinese(token: str, following: str = "") -> str:
    """A digit string as it is read: years and long codes digit by digit, else cardinal."""
    if "." in token:
        whole, frac = token.split(".", 1)
        return integer_to_chinese(int(whole)) + "点" + "".join(DIGITS[int(d)] for d in frac)
    if (len(token) == 4 and following.startswith("年")) or len(token) > 9 or (
            len(token) > 1 and token.startswith("0")):
        return "".join(DIGITS[int(d)] for d in token)
    return integer_to_chinese(int(token))


def digits_to_chinese(text: str) -> str:
    return _NUMBER.sub(lambda m: number_to_chinese(m.group(0), text[m.end():m.end() + 1]),
                       text)


def scoring_form(text: str) -> str:
    """The form error rates compare: simplified, digits read out, lower case, and no
    punctuation, symbols or spaces."""
    text = digits_to_chinese(to_simplified(unicodedata.normalize("NFKC", text))).lower()
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in "LN")
