"""Chinese text as a court transcript writes it: simplified characters, full-width punctuation,
no spaces between Chinese characters, numbers as court documents write them; and the
scoring form used for error rates.

Whisper writes Mandarin in traditional or simplified characters at random and mixes ASCII
punctuation in; OpenCC's ``t2s`` table turns everything into simplified characters.

Numbers follow the SPC's document style (and GB/T 15835): dates, sums of money and
percentages in Arabic numerals (2015年3月5日, 30万元, 1250元, 25%), articles of a statute in
Chinese numerals (第一百一十九条). Whisper writes either form at random; ``court_numbers``
rewrites only those patterns, so idioms (一模一样, 万一) and counted things stay as spoken.
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
_CN_DIGIT = {c: i for i, c in enumerate(DIGITS)} | {"〇": 0, "两": 2}
_CN_UNIT = {"十": 10, "百": 100, "千": 1000}
_CN = "零〇一二两三四五六七八九十百千"
_CN_YEAR = re.compile(r"(?<![\d" + _CN + r"])([零〇一二三四五六七八九]{4})年")
_CN_MONTH_DAY = re.compile(r"(?<=年)(十[一二]?|[一二三四五六七八九])月"
                           r"(?:([一二三]?十[一二三四五六七八九]?|[一二三四五六七八九])([日号]))?")
_CN_MONEY = re.compile(r"(?<![" + _CN + r"])([" + _CN + r"]+(?:点[零〇一二三四五六七八九]+)?)"
                       r"([万亿]?)元")
_CN_PERCENT = re.compile(r"百分之([" + _CN + r"]+(?:点[零〇一二三四五六七八九]+)?)")
_ARTICLE = re.compile(r"第(\d+)([条款项])")
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)%")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")


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
    return court_numbers(_THOUSANDS.sub("", text))


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
    """A digit string as it is read: years, codes and numbers of seven digits or more
    (telephone, ID) digit by digit, else cardinal."""
    if "." in token:
        whole, frac = token.split(".", 1)
        return integer_to_chinese(int(whole)) + "点" + "".join(DIGITS[int(d)] for d in frac)
    if (len(token) == 4 and following.startswith("年")) or len(token) > 6 or (
            len(token) > 1 and token.startswith("0")):
        return "".join(DIGITS[int(d)] for d in token)
    return integer_to_chinese(int(token))


def chinese_to_number(text: str) -> str | None:
    """A Chinese numeral below 10 000 (with an optional 点 fraction) in Arabic digits:
    一千二百五十 → 1250, 三十 → 30, 二点五 → 2.5; None when ``text`` is not one."""
    whole, _, frac = text.partition("点")
    if not whole or (frac and not all(c in _CN_DIGIT for c in frac)):
        return None
    if all(c in _CN_DIGIT for c in whole) and len(whole) > 1:
        value = int("".join(str(_CN_DIGIT[c]) for c in whole))  # read digit by digit
    else:
        value, digit = 0, None
        for c in whole:
            if c in _CN_DIGIT:
                if digit is not None:
                    return None  # two digits in a row inside a cardinal: not a number
                digit = _CN_DIGIT[c]
            elif c in _CN_UNIT:
                value += (1 if digit is None else digit) * _CN_UNIT[c]
                digit = None
            else:
                return None
            if c in "零〇":
                digit = None
        value += digit or 0
    return str(value) + ("." + "".join(str(_CN_DIGIT[c]) for c in frac) if frac else "")


def court_numbers(text: str) -> str:
    """Dates, money and percentages in Arabic numerals; statute articles in Chinese ones."""
    def year(m: re.Match) -> str:
        return "".join(str(_CN_DIGIT[c]) for c in m.group(1)) + "年"

    def month_day(m: re.Match) -> str:
        out = f"{chinese_to_number(m.group(1))}月"
        return out + (f"{chinese_to_number(m.group(2))}{m.group(3)}" if m.group(2) else "")

    def money(m: re.Match) -> str:
        n = chinese_to_number(m.group(1))
        return m.group(0) if n is None else f"{n}{m.group(2)}元"

    def percent(m: re.Match) -> str:
        n = chinese_to_number(m.group(1))
        return m.group(0) if n is None else f"{n}%"

    text = _CN_YEAR.sub(year, text)
    text = _CN_MONTH_DAY.sub(month_day, text)
    text = _CN_MONEY.sub(money, text)
    text = _CN_PERCENT.sub(percent, text)
    return _ARTICLE.sub(lambda m: f"第{integer_to_chinese(int(m.group(1)))}{m.group(2)}",
                        text)


def digits_to_chinese(text: str) -> str:
    return _NUMBER.sub(lambda m: number_to_chinese(m.group(0), text[m.end():m.end() + 1]),
                       text)


def scoring_form(text: str) -> str:
    """The form error rates compare: simplified, digits read out, lower case, and no
    punctuation, symbols or spaces."""
    # 〇 and 幺 are how 零 and 一 are written and read in numbers and codes.
    text = to_simplified(unicodedata.normalize("NFKC", text)).replace("〇", "零")
    text = _THOUSANDS.sub("", text).replace("幺", "一")
    text = _PERCENT.sub(lambda m: "百分之" + m.group(1), text)
    text = digits_to_chinese(text).lower()
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in "LN")
