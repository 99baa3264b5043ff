"""Resolve reward names to reward functions.

A name resolves, in this order, from
  1. the built-in rewards (`BUILTIN_REWARDS`);
  2. a dotted path "package.module:function" (or "package.module:Class.attribute"):
     the module is imported and the attribute looked up;
  3. the entry-point group "r1lite.rewards", so an installed package can add rewards:

         [project.entry-points."r1lite.rewards"]
         my_reward = "my_package.rewards:my_reward"

     Entry points are scanned once, on first need, and cached; `clear_entry_point_cache()`
     forgets them (e.g. after installing a plugin in a running process).
An object that is already callable is passed through unchanged. Anything that cannot be
resolved raises ValueError with a message that says what was tried and what is known.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

from r1lite.errors import ConfigError, did_you_mean
from rewards.consistency import stated_operation_reward, true_comparison_reward
from rewards.countdown import equation_reward, format_reward, shaped_format_reward, tinyzero_reward
from rewards.decision import acted_decision_reward, named_numbers_reward, target_decision_reward
from rewards.graded import answer_expression_reward, closeness_reward, exact_numbers_reward, numbers_used_reward
from rewards.reasoning import checked_answer_reward, faithful_reward, honest_check_reward, reasoning_truth_reward

__all__ = [
    "BUILTIN_REWARDS",
    "ENTRY_POINT_GROUP",
    "RewardFunc",
    "available_rewards",
    "clear_entry_point_cache",
    "get_reward_func",
    "get_reward_funcs",
]

RewardFunc = Callable[..., list[Any]]

ENTRY_POINT_GROUP = "r1lite.rewards"
BUILTIN_REWARDS: Mapping[str, RewardFunc] = MappingProxyType(
    {
        f.__name__: f
        for f in (
            equation_reward,
            format_reward,
            shaped_format_reward,
            tinyzero_reward,
            answer_expression_reward,
            numbers_used_reward,
            exact_numbers_reward,
            closeness_reward,
            reasoning_truth_reward,
            faithful_reward,
            honest_check_reward,
            checked_answer_reward,
            stated_operation_reward,
            true_comparison_reward,
            target_decision_reward,
            acted_decision_reward,
            named_numbers_reward,
        )
    }
)


@functools.cache
def _entry_points() -> Mapping[str, tuple[importlib.metadata.EntryPoint, ...]]:
    """Entry points of ENTRY_POINT_GROUP by name; several when distributions disagree."""
    found: dict[str, dict[str, importlib.metadata.EntryPoint]] = {}
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        # The same distribution seen through two sys.path entries is not a conflict.
        found.setdefault(entry_point.name, {}).setdefault(entry_point.value, entry_point)
    return MappingProxyType({name: tuple(by_value.values()) for name, by_value in found.items()})


def clear_entry_point_cache() -> None:
    """Forget the scanned entry points; the next lookup scans again."""
    _entry_points.cache_clear()


def available_rewards() -> list[str]:
    """Names that resolve without a dotted path: built-ins first, then plugins, each sorted."""
    plugins = sorted(name for name in _entry_points() if name not in BUILTIN_REWARDS)
    return sorted(BUILTIN_REWARDS) + plugins


def _require_callable(obj: object, name: str, origin: str) -> RewardFunc:
    if not callable(obj):
        raise ConfigError(f"reward {name!r} ({origin}) is not callable: got an object of type {type(obj).__name__!r}")
    return obj


def _from_dotted_path(name: str) -> RewardFunc:
    module_name, _, attribute = name.partition(":")
    if not module_name or not attribute:
        raise ConfigError(f"reward {name!r}: a dotted path must look like 'package.module:function'")
    try:
        obj: object = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        # Only a missing `module_name` (or a parent package) is the user's typo; a module
        # that exists but fails on its own imports propagates unchanged.
        if error.name is None or not (module_name + ".").startswith(error.name + "."):
            raise
        raise ConfigError(f"reward {name!r}: no module named {error.name!r} (is it on sys.path?)") from error
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"reward {name!r}: module {module_name!r} has no attribute {attribute!r}")
        obj = getattr(obj, part)
    return _require_callable(obj, name, "dotted path")


def _from_entry_point(name: str) -> RewardFunc | None:
    candidates = _entry_points().get(name)
    if not candidates:
        return None
    if len(candidates) > 1:
        values = ", ".join(repr(entry_point.value) for entry_point in candidates)
        raise ConfigError(f"reward {name!r}: several {ENTRY_POINT_GROUP!r} entry points disagree: {values}")
    entry_point = candidates[0]
    return _require_callable(entry_point.load(), name, f"entry point {entry_point.value!r}")


def get_reward_func(name: str | RewardFunc) -> RewardFunc:
    """The reward function for `name`; see the module docstring for the lookup order."""
    if callable(name):
        return name
    if not isinstance(name, str):
        raise TypeError(f"a reward must be a name or a callable, got {type(name).__name__}")
    if name in BUILTIN_REWARDS:
        return BUILTIN_REWARDS[name]
    if ":" in name:
        return _from_dotted_path(name)
    plugin = _from_entry_point(name)
    if plugin is not None:
        return plugin
    raise ConfigError(
        f"unknown reward {name!r}{did_you_mean(name, available_rewards())}. "
        f"Known rewards: {', '.join(available_rewards())}. "
        f"For your own function, pass a dotted path 'package.module:function', or register it "
        f"in the {ENTRY_POINT_GROUP!r} entry-point group of an installed package."
    )


def get_reward_funcs(names: Iterable[str | RewardFunc]) -> list[RewardFunc]:
    """`get_reward_func` for each name, in order."""
    if isinstance(names, str):
        raise TypeError("get_reward_funcs takes a list of names; for one name use get_reward_func")
    return [get_reward_func(name) for name in names]
