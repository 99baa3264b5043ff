"""Readability checks of a completion: the part of R1's cleanup that is not about correctness.

DeepSeek-R1's cold-start and rejection-sampling data drop reasoning that is hard to read: endless
repetition, mixed languages, no reasoning at all. Each check below takes the completion text
(what follows the ``<think>`` prefill) and answers one yes/no question; rejection sampling uses
them as filters and the pipeline's final table reports how often each fires.

    repetition       some word n-gram occurs more than ``max_repeats`` times (a decoding loop)
    language_mixing  more than ``max_foreign`` of the letters are outside ASCII (e.g. CJK inside English)
    empty_reasoning  fewer than ``min_words`` words before ``</think>`` (or no ``</think>`` at all)
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from r1lite.errors import ConfigError
from rewards.countdown import THINK_CLOSE

_WORD = re.compile(r"\S+")


def reasoning_text(completion: str) -> str:
    """The reasoning: everything before the first ``</think>`` ("" when the tag never closes).

    Stricter than ``r1lite.inspection.behaviour.reasoning_part`` (which falls back to the text before the answer):
    a filter should not call reasoning what never closed its tag."""
    end = completion.find(THINK_CLOSE)
    return "" if end < 0 else completion[:end]


def max_ngram_count(text: str, n: int) -> int:
    """How often the most frequent word n-gram occurs (0 when the text has fewer than n words)."""
    words = _WORD.findall(text.lower())
    if len(words) < n:
        return 0
    counts = Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
    return max(counts.values())


def foreign_letter_fraction(text: str) -> float:
    """Fraction of the letters that are not ASCII letters (0.0 for a text without letters)."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return 0.0
    return sum(not ch.isascii() for ch in letters) / len(letters)


@dataclass(frozen=True)
class ReadabilityRules:
    """Thresholds of the readability checks; the defaults suit English countdown reasoning."""

    ngram_size: int = 4  # words per n-gram of the repetition check
    max_repeats: int = 3  # an n-gram seen more often than this is a loop
    max_foreign: float = 0.02  # largest tolerated share of non-ASCII letters
    min_words: int = 3  # fewest words of reasoning before </think>

    def __post_init__(self) -> None:
        if self.ngram_size < 1 or self.max_repeats < 1:
            raise ConfigError(
                f"ngram_size and max_repeats must be at least 1, got {self.ngram_size}, {self.max_repeats}"
            )
        if not 0.0 <= self.max_foreign <= 1.0:
            raise ConfigError(f"max_foreign is a fraction of letters in [0, 1], got {self.max_foreign}")

    def problems(self, completion: str) -> list[str]:
        """The names of the checks this completion fails, in the order of the module docstring."""
        found = []
        if max_ngram_count(completion, self.ngram_size) > self.max_repeats:
            found.append("repetition")
        if foreign_letter_fraction(completion) > self.max_foreign:
            found.append("language_mixing")
        if len(_WORD.findall(reasoning_text(completion))) < self.min_words:
            found.append("empty_reasoning")
        return found


CHECKS = ("repetition", "language_mixing", "empty_reasoning")


def readability_rates(completions: list[str], rules: ReadabilityRules | None = None) -> dict[str, float]:
    """Share of completions failing each check, ``readable`` (failing none), mean reasoning words, and the
    share of distinct completions (whitespace-normalised; 1/n when every completion is the same text)."""
    rules = rules or ReadabilityRules()
    if not completions:
        raise ValueError("readability_rates needs at least one completion")
    problems = [rules.problems(c) for c in completions]
    n = len(completions)
    rates = {f"{check}_rate": sum(check in p for p in problems) / n for check in CHECKS}
    rates["readable_rate"] = sum(not p for p in problems) / n
    rates["reasoning_words"] = sum(len(_WORD.findall(reasoning_text(c))) for c in completions) / n
    # Readable is not enough: a model can give the same tidy text to every puzzle (mode collapse).
    rates["distinct_rate"] = len({" ".join(c.split()) for c in completions}) / n
    return rates
