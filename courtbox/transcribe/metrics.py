"""Error rates of a transcript against a reference: CER for Chinese, WER for English.

Both sides go through ``normalize.scoring_form`` first (simplified characters, digits read
out as Chinese numerals, punctuation and spaces dropped), so only words count.
"""

from __future__ import annotations

from dataclasses import dataclass

from courtbox.transcribe.normalize import scoring_form


def edit_distance(ref: list[str] | str, hyp: list[str] | str) -> int:
    """Levenshtein distance (substitutions, insertions, deletions all cost 1)."""
    if len(ref) < len(hyp):
        ref, hyp = hyp, ref
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        current = [i]
        for j, h in enumerate(hyp, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (r != h)))
        previous = current
    return previous[-1]


@dataclass(frozen=True)
class ErrorCount:
    errors: int
    reference_length: int

    @property
    def rate(self) -> float:
        return self.errors / self.reference_length if self.reference_length else 0.0

    def __add__(self, other: ErrorCount) -> ErrorCount:
        return ErrorCount(self.errors + other.errors,
                          self.reference_length + other.reference_length)


def char_errors(reference: str, hypothesis: str) -> ErrorCount:
    ref, hyp = scoring_form(reference), scoring_form(hypothesis)
    return ErrorCount(edit_distance(ref, hyp), len(ref))


def word_errors(reference: str, hypothesis: str) -> ErrorCount:
    ref = scoring_form_words(reference)
    hyp = scoring_form_words(hypothesis)
    return ErrorCount(edit_distance(ref, hyp), len(ref))


def scoring_form_words(text: str) -> list[str]:
    return [scoring_form(w) for w in text.split() if scoring_form(w)]


def errors_for(language: str, reference: str, hypothesis: str) -> ErrorCount:
    """CER for Chinese (and anything not English), WER for English."""
    if language == "en":
        return word_errors(reference, hypothesis)
    return char_errors(reference, hypothesis)
