"""Exact, bounded arithmetic on untrusted expressions: the countdown answer language.

Model output is never given to eval/exec/ast. An expression is accepted only when it is
a sentence of this grammar:

    expr    := term (("+" | "-") term)*
    term    := factor (("*" | "/") factor)*
    factor  := INTEGER | "(" expr ")"
    INTEGER := [0-9]+      ASCII digits only; "0" or no leading zero; at most 10 digits

Whitespace (ASCII space, tab, CR, LF) may appear between tokens. Operators are binary and
left-associative, * and / bind tighter than + and -, and arithmetic is exact
(`fractions.Fraction`), so 7 / 2 is 7/2, not 3.5.

Rejected, i.e. `parse` returns None: signs (unary minus or plus: "-3 + 5", "+3",
"3 - -5", "--3"), "**", "//", "%", decimals ("2.5"), names, calls, attribute access,
non-ASCII digits, implicit multiplication ("2(3)", "(1)(2)"), empty parentheses,
unbalanced parentheses, the empty expression, and anything else. `Expression.value`
returns None on division by zero.

Bounds, so every call takes microseconds whatever the input: at most MAX_EXPR_CHARS
characters (checked first), at most MAX_LITERAL_DIGITS digits per literal (checked before
int()), at most MAX_DEPTH nested parentheses. Parsing is an iterative shunting-yard pass,
so deep nesting cannot raise RecursionError.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

__all__ = [
    "MAX_DEPTH",
    "MAX_EXPR_CHARS",
    "MAX_LITERAL_DIGITS",
    "Expression",
    "evaluate",
    "parse",
    "parse_numbers",
]

MAX_EXPR_CHARS = 512
MAX_LITERAL_DIGITS = 10
MAX_DEPTH = 64

_ALLOWED = re.compile(r"[0-9+\-*/() \t\r\n]*", re.ASCII)
_TOKEN = re.compile(r"[0-9]+|[-+*/()]", re.ASCII)
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}
_DIGITS = frozenset("0123456789")


@dataclass(frozen=True, slots=True)
class Expression:
    """A parsed expression: its integer literals in source order and its postfix form."""

    literals: tuple[int, ...]
    postfix: tuple[int | str, ...]

    def value(self) -> Fraction | None:
        """The exact value, or None on division by zero."""
        stack: list[int | Fraction] = []
        for token in self.postfix:
            if isinstance(token, int):
                stack.append(token)
                continue
            right = stack.pop()
            left = stack.pop()
            if token == "+":
                stack.append(left + right)
            elif token == "-":
                stack.append(left - right)
            elif token == "*":
                stack.append(left * right)
            elif right == 0:
                return None
            else:
                stack.append(Fraction(left) / right)
        return Fraction(stack[0])


def parse(expr: str) -> Expression | None:
    """Parse `expr` by the grammar above; None when it is not a valid expression."""
    if len(expr) > MAX_EXPR_CHARS or _ALLOWED.fullmatch(expr) is None:
        return None
    literals: list[int] = []
    postfix: list[int | str] = []
    pending: list[str] = []  # operators and "(" not yet emitted
    expect_operand = True
    depth = 0
    for token in _TOKEN.findall(expr):
        first = token[0]
        if first in _DIGITS:
            if not expect_operand or len(token) > MAX_LITERAL_DIGITS:
                return None
            if first == "0" and len(token) > 1:  # leading zero, e.g. "05"
                return None
            number = int(token)
            literals.append(number)
            postfix.append(number)
            expect_operand = False
        elif first == "(":
            depth += 1
            if not expect_operand or depth > MAX_DEPTH:  # "2(3)" or too deep
                return None
            pending.append(first)
        elif first == ")":
            if expect_operand or depth == 0:  # "()", "(1+)" or unbalanced
                return None
            while (op := pending.pop()) != "(":
                postfix.append(op)
            depth -= 1
        else:  # binary operator
            if expect_operand:  # a sign, or the second half of "**" / "//"
                return None
            precedence = _PRECEDENCE[first]
            while pending and pending[-1] != "(" and _PRECEDENCE[pending[-1]] >= precedence:
                postfix.append(pending.pop())
            pending.append(first)
            expect_operand = True
    if expect_operand or depth:  # empty, trailing operator, or unclosed "("
        return None
    postfix.extend(reversed(pending))
    return Expression(tuple(literals), tuple(postfix))


def evaluate(expr: str) -> Fraction | None:
    """The exact value of `expr`; None when it does not parse or divides by zero."""
    parsed = parse(expr)
    return None if parsed is None else parsed.value()


def parse_numbers(expr: str) -> list[int] | None:
    """The integer literals of `expr` in source order; None when it does not parse."""
    parsed = parse(expr)
    return None if parsed is None else list(parsed.literals)
