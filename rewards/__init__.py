"""Rule-based rewards for r1lite, with TRL's reward signature `f(prompts, completions, **kwargs)`.

Rewards are looked up by name with `get_reward_funcs(["equation_reward", "format_reward"])`:
built-ins, dotted paths ("package.module:function") and the "r1lite.rewards" entry-point
group (see `rewards.registry`). The countdown rules are documented in `rewards.countdown`, the
graded (partial-credit) rules in `rewards.graded`, whether the reasoning's equations are true in
`rewards.reasoning`, whether the reasoning's comparisons hold and its arithmetic does what its words name in
`rewards.consistency`, whether it names the two numbers truly and decides sum or difference from the target in
`rewards.decision`, the safe expression evaluator in `rewards.safe_math`.
"""

from rewards.consistency import stated_operation_reward, true_comparison_reward
from rewards.countdown import equation_reward, format_reward, shaped_format_reward, tinyzero_reward
from rewards.decision import acted_decision_reward, named_numbers_reward, target_decision_reward
from rewards.graded import answer_expression_reward, closeness_reward, exact_numbers_reward, numbers_used_reward
from rewards.reasoning import checked_answer_reward, faithful_reward, honest_check_reward, reasoning_truth_reward
from rewards.registry import available_rewards, get_reward_func, get_reward_funcs

__all__ = [
    "acted_decision_reward",
    "answer_expression_reward",
    "available_rewards",
    "checked_answer_reward",
    "closeness_reward",
    "equation_reward",
    "exact_numbers_reward",
    "faithful_reward",
    "format_reward",
    "get_reward_func",
    "get_reward_funcs",
    "honest_check_reward",
    "named_numbers_reward",
    "numbers_used_reward",
    "reasoning_truth_reward",
    "shaped_format_reward",
    "stated_operation_reward",
    "target_decision_reward",
    "tinyzero_reward",
    "true_comparison_reward",
]
