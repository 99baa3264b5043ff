"""Behaviour metrics of completions: is the reasoning changing the way R1-Zero's did?

DeepSeek reported that under RL alone the model's answers grew longer, and that it began to check
itself ("wait, wait, that's an aha moment"), to backtrack and to try several equations before
answering. These numbers make that visible per completion and per step. Each is a plain rule
over the completion text (never evaluated: arithmetic goes through ``rewards.safe_math``):

    per completion                what it is
    formatted        bool         strict format: ``rewards.countdown.format_reward`` is 1
    correct          bool | None  the last answer block solves the puzzle (``equation_reward``'s rule),
                                  whatever rewards the recipe trains with; None without a valid puzzle
    reflections      int          reflection phrases ("wait", "let me check", "try again", ...): matches
                                  of ``reflection_words``, case-insensitive, whole words, in the whole completion
    candidates       int          distinct arithmetic expressions in the reasoning (the text before the last
                                  ``</think>``, else before the answer): two or more numbers joined by
                                  + - * / × x ÷, e.g. "2 * 4" and "8 + 3" in "2 * 4 = 8, 8 + 3 = 11, no."
    answer_position  float | None where the last complete ``<answer>`` block starts, as a fraction of the
                                  completion's characters (0: answers at once, near 1: after long reasoning);
                                  None without an answer block
    shape            str | None   the answer's shape in the puzzle's letters (``a - b + c``:
                                  ``r1lite.task.baselines.answer_shape``); None without a readable answer
    statements, true_statements, unread_statements
                     int          equations ``expression = value`` stated in the reasoning, those that
                                  are true, those the parser could not read (``rewards.reasoning``)
    faithful         bool         at least one statement, every read one true

    per batch (``summarize``; the trainer logs each as ``behaviour/<name>`` every step)
    format_rate, answer_rate, accuracy          fractions of completions
    length_mean, length_p10, length_p50, length_p90   completion tokens
    truncation_rate                              fraction that hit max_completion_length
    reflection_rate                              fraction with at least one reflection phrase
    reflections_mean, candidates_mean            per completion
    answer_position_mean                         over completions with an answer (absent when none has one)
    top_shape_share                              the most common answer shape's share of the readable answers
                                                 (absent when none has one; the template collapse guard reads it)
    statements_true_rate                         true statements / read statements (absent when none states one)
    faithful_rate                                fraction of completions that are faithful
    unread_statements_mean                       per completion

All of it is regular expressions and string searches, linear in the text: about as cheap as the
rewards themselves (a 100 kB completion stays in the milliseconds).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence

from r1lite.task.baselines import answer_shape, diversity
from rewards.countdown import ANSWER_CLOSE, ANSWER_OPEN, equation_reward, format_reward
from rewards.reasoning import read_reasoning, reasoning_part

# What counts as a reflection. Multi-word phrases match across any whitespace; "'" also matches "’".
DEFAULT_REFLECTION_WORDS: tuple[str, ...] = (
    "wait",
    "hmm",
    "actually",
    "let me check",
    "let's check",
    "verify",
    "double-check",
    "double check",
    "check again",
    "recheck",
    "re-check",
    "re-evaluate",
    "reconsider",
    "try again",
    "try another",
    "that's not right",
    "that is not right",
    "that's wrong",
    "that is wrong",
    "not correct",
    "incorrect",
    "mistake",
    "alternatively",
)

# Numbers (ASCII digits, as in rewards.safe_math) joined by operators, within one line. The lookbehind after
# the first digit keeps a match from starting inside a number, and every repeated run is followed by a
# character outside it, so matching stays linear in the text (100 kB inputs in tests/test_behaviour.py).
_EXPRESSION = re.compile(r"[0-9](?<![0-9][0-9])[0-9]*(?:[ \t()]*[-+*/×÷x][ \t()]*[0-9]+)+")

BEHAVIOUR_FIELDS = (
    "formatted",
    "correct",
    "reflections",
    "candidates",
    "answer_position",
    "shape",
    "statements",
    "true_statements",
    "unread_statements",
    "faithful",
)


def _trie(words: Iterable[str]) -> str:
    """A regular expression matching exactly ``words``, shaped as a trie: at each position the engine tests the
    first letters once instead of trying every phrase in turn (longer continuations are greedy, so the longest
    phrase wins)."""
    root: dict = {}
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict) -> str:
        branches = []
        for ch in sorted(k for k in node if k):
            # a space matches any whitespace run, an apostrophe also the typographic one
            atom = r"\s+" if ch == " " else "['’]" if ch == "'" else re.escape(ch)
            branches.append(atom + build(node[ch]))
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return build(root)


@functools.lru_cache(maxsize=16)
def _reflection_patterns(words: tuple[str, ...]) -> tuple[re.Pattern, re.Pattern] | None:
    """(lower-case pattern, case-insensitive pattern) for the phrases; None for no phrases.

    No leading ``\\b``: a pattern that starts with a letter set lets the engine skip ahead fast. The left word
    boundary is checked in ``reflection_matches`` instead.
    """
    phrases = {" ".join(w.lower().split()) for w in words}
    phrases.discard("")
    if not phrases:
        return None
    trie = _trie(phrases)
    return re.compile(trie + r"\b"), re.compile(trie + r"\b", re.IGNORECASE)


def reflection_matches(text: str, words: Iterable[str] | None = None) -> list[tuple[int, int]]:
    """(start, end) of every reflection phrase in ``text``: whole words, case-insensitive, non-overlapping."""
    return _matches(text, _reflection_patterns(tuple(DEFAULT_REFLECTION_WORDS if words is None else words)))


def _matches(text: str, patterns: tuple[re.Pattern, re.Pattern] | None) -> list[tuple[int, int]]:
    if patterns is None:
        return []
    lower = text.lower()
    if len(lower) == len(text):  # lower-casing kept every offset (it does, except for a few letters such as "İ")
        pattern, haystack = patterns[0], lower
    else:
        pattern, haystack = patterns[1], text
    spans = []
    pos = 0
    while (match := pattern.search(haystack, pos)) is not None:
        start = match.start()
        if start > 0 and (haystack[start - 1].isalnum() or haystack[start - 1] == "_"):
            pos = start + 1  # inside a word ("await"): look again from the next character
            continue
        spans.append(match.span())
        pos = match.end()
    return spans


def count_reflections(text: str, words: Iterable[str] | None = None) -> int:
    return len(reflection_matches(text, words))


def expression_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every arithmetic expression in the reasoning part of ``text``, for highlighting."""
    return [m.span() for m in _EXPRESSION.finditer(reasoning_part(text))]


def candidate_expressions(text: str) -> list[str]:
    """Distinct arithmetic expressions in the reasoning, whitespace removed, in order of first appearance."""
    reasoning = reasoning_part(text)
    seen: dict[str, None] = {}
    for match in _EXPRESSION.finditer(reasoning):
        expression = match.group()
        if ")" in expression:  # the match starts at a digit: take back the opening parentheses it closes
            start = match.start()
            missing = expression.count(")") - expression.count("(")
            while missing > 0 and start > 0 and reasoning[start - 1] in "( \t":
                start -= 1
                missing -= reasoning[start] == "("
            expression = reasoning[start : match.end()]
        seen.setdefault("".join(expression.split()), None)
    return list(seen)


def answer_position(text: str) -> float | None:
    """Start of the last complete answer block (``extract_answer``'s rule) as a fraction of the text; None
    without one."""
    end = text.rfind(ANSWER_CLOSE)
    start = text.rfind(ANSWER_OPEN, 0, end) if end >= 0 else -1
    return None if start < 0 else start / len(text)


def _valid_puzzle(nums: object, target: object) -> bool:
    return isinstance(nums, (list, tuple)) and bool(nums) and all(type(n) is int for n in nums) and type(target) is int


def completion_behaviour(
    texts: Sequence[str],
    nums: Sequence[object] | None = None,
    targets: Sequence[object] | None = None,
    words: Iterable[str] | None = None,
) -> list[dict]:
    """The per-completion fields (``BEHAVIOUR_FIELDS``) of each text; puzzles give ``correct`` (None without one)."""
    n = len(texts)
    nums = [None] * n if nums is None else list(nums)
    targets = [None] * n if targets is None else list(targets)
    if not len(nums) == len(targets) == n:
        raise ValueError(f"{n} completions but {len(nums)} nums and {len(targets)} targets")
    texts = [t if isinstance(t, str) else "" for t in texts]
    formatted = format_reward(None, texts)
    scorable = [i for i in range(n) if _valid_puzzle(nums[i], targets[i])]
    correct: list[bool | None] = [None] * n
    if scorable:
        scores = equation_reward(
            None,
            [texts[i] for i in scorable],
            nums=[list(nums[i]) for i in scorable],
            target=[targets[i] for i in scorable],
        )
        for i, score in zip(scorable, scores, strict=True):
            correct[i] = score == 1.0
    patterns = _reflection_patterns(tuple(DEFAULT_REFLECTION_WORDS if words is None else words))
    scorable_set = set(scorable)
    return [
        dict(
            formatted=formatted[i] == 1.0,
            correct=correct[i],
            reflections=len(_matches(text, patterns)),
            candidates=len(candidate_expressions(text)),
            answer_position=answer_position(text),
            shape=answer_shape(text, nums[i]) if i in scorable_set else None,
            **_reasoning_fields(read_reasoning(text, nums[i] if i in scorable_set else None)),
        )
        for i, text in enumerate(texts)
    ]


def _reasoning_fields(r) -> dict:
    return dict(statements=r.statements, true_statements=r.true, unread_statements=r.unread, faithful=r.faithful)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between order statistics (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize(behaviour: Sequence[dict], lengths: Sequence[int], truncated: Sequence[bool]) -> dict[str, float]:
    """Batch metrics (names in the module docstring) from per-completion fields, token lengths and truncation flags."""
    n = len(behaviour)
    if n == 0:
        return {}
    if not len(lengths) == len(truncated) == n:
        raise ValueError(f"{n} completions but {len(lengths)} lengths and {len(truncated)} truncation flags")
    positions = [b["answer_position"] for b in behaviour if b["answer_position"] is not None]
    scored = [b["correct"] for b in behaviour if b["correct"] is not None]
    metrics = {
        "format_rate": sum(b["formatted"] for b in behaviour) / n,
        "answer_rate": len(positions) / n,
        "length_mean": sum(lengths) / n,
        "length_p10": percentile(lengths, 10),
        "length_p50": percentile(lengths, 50),
        "length_p90": percentile(lengths, 90),
        "truncation_rate": sum(bool(t) for t in truncated) / n,
        "reflection_rate": sum(b["reflections"] > 0 for b in behaviour) / n,
        "reflections_mean": sum(b["reflections"] for b in behaviour) / n,
        "candidates_mean": sum(b["candidates"] for b in behaviour) / n,
    }
    if scored:
        metrics["accuracy"] = sum(scored) / len(scored)
    if positions:
        metrics["answer_position_mean"] = sum(positions) / len(positions)
    stated = sum(b.get("statements", 0) for b in behaviour)
    if stated:
        metrics["statements_true_rate"] = sum(b.get("true_statements", 0) for b in behaviour) / stated
    metrics["faithful_rate"] = sum(bool(b.get("faithful")) for b in behaviour) / n
    metrics["unread_statements_mean"] = sum(b.get("unread_statements", 0) for b in behaviour) / n
    shapes = diversity([b.get("shape") for b in behaviour])
    if shapes.answered:
        metrics["top_shape_share"] = shapes.top_share
    return metrics
