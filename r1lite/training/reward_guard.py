"""Reward functions held to TRL's contract, so a user's mistake in one is reported where it happened.

TRL calls each reward as ``f(prompts=..., completions=..., **columns)`` and expects one float (or
None: "not applicable") per completion. A reward that raises, returns the wrong number of values,
or returns something that is not a number would otherwise fail deep inside TRL's trainer with its
stack. :class:`CheckedReward` wraps the function (keeping its ``__name__``, which is TRL's metric
name) and turns each of these into a :class:`RewardError` naming the function, the training step,
the completion's index and its first 200 characters. For an exception, the completions are tried
one at a time to find the first one that fails.
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable, Sequence
from typing import Any

from r1lite.errors import UserError
from rewards.countdown import completion_text

SHOWN_CHARS = 200


class RewardError(UserError):
    """A reward function broke TRL's contract: it raised, or returned values TRL cannot use."""


def reward_name(func: Callable) -> str:
    return getattr(func, "__name__", None) or type(func).__name__


class CheckedReward:
    """``func`` with its output checked; errors name the function, step and completion. Pickles if ``func`` does."""

    def __init__(self, func: Callable, where: str | None = None):
        self.func = func
        self.where = where  # e.g. "in rejection sampling"; None: the trainer's step, from TRL's trainer_state
        self.__name__ = reward_name(func)

    def __repr__(self) -> str:
        return f"CheckedReward({self.__name__})"

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list:
        n = len(completions)
        try:
            out = self.func(prompts=prompts, completions=completions, **kwargs)
        except UserError:
            raise  # already says what to change (a data set without the reward's columns, say)
        except Exception as err:
            index = self._first_failing(prompts, completions, kwargs)
            where = (
                f"on completion {index} of {n}{_shown(completions[index])}"
                if index is not None
                else (f"on a batch of {n} completions (none fails alone)")
            )
            raise RewardError(
                f"reward {self.__name__} raised {type(err).__name__}: {err} {self._where(kwargs)} {where}"
            ) from err
        try:
            values = list(out)
        except TypeError:
            raise RewardError(
                f"reward {self.__name__} returned {type(out).__name__} {self._where(kwargs)}; it must return a list "
                f"with one float (or None) per completion"
            ) from None
        if len(values) != n:
            raise RewardError(
                f"reward {self.__name__} returned {len(values)} values for {n} completions {self._where(kwargs)}; "
                "it must "
                "return one float (or None for 'not applicable') per completion"
            )
        for i, value in enumerate(values):
            if not _is_number(value):
                raise RewardError(
                    f"reward {self.__name__} returned {value!r} ({type(value).__name__}) for completion {i} of {n} at "
                    f"{self._where(kwargs)}, not a number; return a float (or None){_shown(completions[i])}"
                )
        return out

    def _where(self, kwargs: dict) -> str:
        step = getattr(kwargs.get("trainer_state"), "global_step", None)
        return self.where or ("outside training" if step is None else f"at step {step}")

    def _first_failing(self, prompts, completions, kwargs) -> int | None:
        n = len(completions)
        for i in range(n):
            one = {k: (v[i : i + 1] if isinstance(v, (list, tuple)) and len(v) == n else v) for k, v in kwargs.items()}
            try:
                self.func(prompts=list(prompts[i : i + 1]), completions=list(completions[i : i + 1]), **one)
            except Exception:
                return i
        return None


def checked(funcs: Sequence[Callable], where: str | None = None) -> list[Callable]:
    """Each reward wrapped in :class:`CheckedReward`; async rewards and reward models are left as they are."""
    return [
        f
        if inspect.iscoroutinefunction(f)
        or inspect.iscoroutinefunction(getattr(f, "__call__", None))  # noqa: B004 - not a callable check: is __call__ async
        or hasattr(f, "forward")
        or isinstance(f, CheckedReward)
        else CheckedReward(f, where)
        for f in funcs
    ]


def _is_number(value: Any) -> bool:
    if value is None or isinstance(value, numbers.Real):
        return True
    return getattr(value, "ndim", None) == 0 and hasattr(value, "item") and isinstance(value.item(), numbers.Real)


def _shown(completion: Any) -> str:
    text = completion_text(completion)
    text = repr(completion)[:SHOWN_CHARS] if text is None else text[:SHOWN_CHARS]
    return f"; the completion begins: {text!r}"
