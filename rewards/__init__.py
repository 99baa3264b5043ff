"""Rule-based rewards for r1lite, with TRL's reward signature `f(prompts, completions, **kwargs)`.

Rewards are looked up by name with `get_reward_funcs(["equation_reward", "format_reward"])`:
built-ins, dotted paths ("package.module:function") and the "r1lite.rewards" entry-point
group (see `rewards.registry`). The countdown rules are documented in `rewards.countdown`,
the safe expression evaluator in `rewards.safe_math`.
"""

from rewards.countdown import equation_reward, format_reward, shaped_format_reward, tinyzero_reward
from rewards.registry import available_rewards, get_reward_func, get_reward_funcs

__all__ = [
    "available_rewards",
    "equation_reward",
    "format_reward",
    "get_reward_func",
    "get_reward_funcs",
    "shaped_format_reward",
    "tinyzero_reward",
]
