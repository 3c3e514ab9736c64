"""The hearing's own words (the names of the panel, the clerk and the parties, the case's
terms) for the recogniser, where they are heard and nowhere else.

A general model has never heard a party's name. Given to Whisper as hotwords on every line,
they rewrite ordinary speech: on ``bench/aishell-dev.tsv`` six names of a hearing (王建国、
李秀英、陈立明、刘芳、北京华信科技有限公司、赵国强), none of them spoken there, took the
final lines from 433 to 454 character errors (13925800457 read as 1392-5800-457, 打开 call
me maybe as 打开靠未必). So a line is decoded without them first; only where its text holds
something that sounds like one of them (the same syllables, tones aside, but for at most
one in three) is it decoded again with that word, and the second reading is kept only when
it writes the word. A line with nothing like a hearing word is exactly what it is without.

The configured legal hotwords (``model.hotwords``: 审判长, 书记员, 诉讼请求…) go the same way:
given on every line they wrote 书记 for 数据 and 被告证 for "Because of"; gated like this, the
turn rooms of seed 400 went from 355 to 348 errors and aishell-dev from 433 to 422.
"""

from __future__ import annotations

import re

from pypinyin import lazy_pinyin

_HAN = re.compile(r"[\u4e00-\u9fff]")


def syllables(text: str) -> list[str]:
    """One toneless pinyin syllable per character of ``text`` (other characters stand for
    themselves), so that positions line up with ``text``; retroflex and flat initials, and
    back and front nasal finals, folded together (zh/z, ch/c, sh/s, ing/in, eng/en, ang/an:
    what a recogniser, and many speakers, confuse)."""
    return [_fold(s) for s in lazy_pinyin(text, errors=lambda chars: list(chars))]


def _fold(syllable: str) -> str:
    if syllable[:2] in ("zh", "ch", "sh"):
        syllable = syllable[0] + syllable[2:]
    return syllable[:-1] if syllable.endswith("ng") else syllable


def sounds_like(text: str, words: tuple[str, ...]) -> tuple[str, ...]:
    """The ``words`` that ``text`` holds something like without holding them: a run of
    Chinese characters as long as the word whose syllables differ from the word's in at
    most a third of them (none for a word of two characters: a homophone)."""
    if not words or not _HAN.search(text):
        return ()
    said = syllables(text)
    heard = []
    for word in words:
        if len(word) < 2 or word in text or not _HAN.fullmatch(word[0]):
            continue
        wanted, allowed = syllables(word), len(word) // 3
        for at in range(len(text) - len(word) + 1):
            window = text[at:at + len(word)]
            if not all(_HAN.fullmatch(c) for c in window):
                continue
            misses = sum(a != b for a, b in zip(said[at:at + len(word)], wanted, strict=True))
            if misses <= allowed:
                heard.append(word)
                break
    return tuple(heard)
