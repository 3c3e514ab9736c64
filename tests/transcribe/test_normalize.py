"""Chinese display form and scoring form: simplified characters, punctuation, court-style
numbers, and an error rate that counts words, not formatting."""

from __future__ import annotations

import pytest

from courtbox.transcribe.metrics import char_errors
from courtbox.transcribe.normalize import (
    chinese_to_number,
    court_numbers,
    normalize_zh,
    scoring_form,
)


@pytest.mark.parametrize(("spoken", "written"), [
    ("二零一五年三月五日开庭", "2015年3月5日开庭"),
    ("二〇二六年十一月二十三号", "2026年11月23号"),
    ("原告请求赔偿三十万元", "原告请求赔偿30万元"),
    ("共计一千二百五十元", "共计1250元"),
    ("利率为百分之二十四", "利率为24%"),
    ("百分之三点五", "3.5%"),
    ("依照第119条第一款", "依照第一百一十九条第一款"),
    # Spoken numbers that are not dates, money or percentages stay as they are.
    ("一模一样", "一模一样"), ("万一", "万一"), ("一二线城市", "一二线城市"),
    ("三千套房源", "三千套房源"), ("二十一日", "二十一日"),
])
def test_numbers_are_written_as_a_court_record_writes_them(spoken: str, written: str) -> None:
    assert court_numbers(spoken) == written
    assert scoring_form(written) == scoring_form(spoken.replace("〇", "零"))


def test_chinese_numerals_are_read_as_numbers() -> None:
    assert [chinese_to_number(t) for t in ("一千零五", "十", "两百", "二点五", "一二")] == [
        "1005", "10", "200", "2.5", "12"]
    assert chinese_to_number("一三百") is None and chinese_to_number("点五") is None


def test_display_form_is_simplified_with_full_width_punctuation() -> None:
    assert normalize_zh("現在開庭, 請原告陳述訴訟請求.") == "现在开庭，请原告陈述诉讼请求。"


def test_error_rate_ignores_punctuation_digits_and_percent_signs() -> None:
    assert char_errors("利率为百分之二十四", "利率为24%。").errors == 0
    assert char_errors("二零一五年", "2015年").errors == 0
    assert char_errors("累计推出房源三千套", "累计推出房源3,000套").errors == 0
    assert char_errors("六二二二三四幺零", "62223410").errors == 0  # a number to dial
    assert char_errors("三十万元", "300000元").errors == 0  # a sum of money


def test_thousands_separators_are_dropped_from_the_record() -> None:
    assert normalize_zh("累计推出房源3,000套，共计1,250,000元") == (
        "累计推出房源3000套，共计1250000元")
