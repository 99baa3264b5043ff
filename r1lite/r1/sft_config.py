"""What the R1 stage (rejection sampling + SFT) adds to TRL's ``SFTConfig`` and ``ModelConfig``.

A recipe YAML for ``recipes/sft.py`` holds the fields of ``CleanupConfig`` (below), TRL's
``SFTConfig`` (optimisation, logging, checkpoints) and TRL's ``ModelConfig`` (dtype, LoRA).

The task (puzzles, prompt template, rewards, held-out split) is NOT repeated here: it is read
from the R1-Zero run that is sampled from (``r1lite_task.json``, written by the zero stage), so
both stages score with the same rewards on the same prompts by construction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from r1lite.errors import ConfigError
from r1lite.r1.readability import ReadabilityRules

_KEEP_IF = re.compile(r"^\s*([\w.:]+)\s*>=\s*(-?[0-9.]+(?:[eE]-?[0-9]+)?)\s*$")


def parse_keep_if(rules: list[str]) -> list[tuple[str, float]]:
    """``["equation_reward>=1", ...]`` -> ``[("equation_reward", 1.0), ...]``, with an error naming a
    malformed rule."""
    parsed = []
    for rule in rules:
        match = _KEEP_IF.match(rule)
        if not match:
            raise ConfigError(
                f"keep_if rule {rule!r} is not of the form 'reward_name>=value', e.g. 'equation_reward>=1'"
            )
        parsed.append((match.group(1), float(match.group(2))))
    return parsed


@dataclass
class CleanupConfig:
    """The R1 stage: which checkpoint to sample, how many samples, which to keep, where SFT starts."""

    sample_from: str | None = field(
        default=None,
        metadata={
            "help": "The R1-Zero checkpoint to sample from: a zero run's output_dir or one of its "
            "checkpoint-N folders."
        },
    )
    task_recipe: str | None = field(
        default=None,
        metadata={
            "help": "A zero recipe YAML whose task fields (data, prompt, rewards, difficulty) apply. Only needed when "
            "sample_from holds no r1lite_task.json (a model that r1lite's zero stage did not train)."
        },
    )
    init_from: str = field(
        default="zero",
        metadata={
            "help": "Where SFT starts: 'zero' (the sampled checkpoint), 'base' (the model the R1-Zero run "
            "started from, as DeepSeek-R1 does) or a model path/name."
        },
    )
    num_sample_prompts: int = field(default=256, metadata={"help": "Training prompts to sample from."})
    samples_per_prompt: int = field(default=8, metadata={"help": "Completions sampled per prompt (k)."})
    max_kept_per_prompt: int = field(
        default=2, metadata={"help": "Most completions kept per prompt (m), after deduplication."}
    )
    sample_temperature: float = field(default=1.0, metadata={"help": "Sampling temperature (must be > 0)."})
    sample_top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling threshold."})
    sample_max_new_tokens: int = field(
        default=96, metadata={"help": "Token cap of each sampled completion; the held-out evaluation uses it too."}
    )
    sample_batch_size: int = field(default=64, metadata={"help": "Sequences per generation batch (HF generation)."})
    sample_with_vllm: bool = field(
        default=False, metadata={"help": "Sample with vLLM (GPU, pip install 'r1lite[vllm]') instead of HF generate."}
    )
    keep_if: list[str] = field(
        default_factory=lambda: ["equation_reward>=1", "format_reward>=1"],
        metadata={
            "help": "Reward rules a kept completion passes, as 'reward_name>=value' (names resolve like "
            "reward_funcs). The default: the answer is correct and the format strict."
        },
    )
    ngram_size: int = field(default=4, metadata={"help": "Words per n-gram of the repetition filter."})
    max_ngram_repeats: int = field(
        default=3, metadata={"help": "Drop a completion in which an n-gram occurs more often than this."}
    )
    max_foreign_letters: float = field(
        default=0.02,
        metadata={"help": "Drop a completion whose share of non-ASCII letters exceeds this (language mixing)."},
    )
    min_reasoning_words: int = field(
        default=3, metadata={"help": "Drop a completion with fewer words before </think>."}
    )
    min_completion_tokens: int = field(default=1, metadata={"help": "Drop completions shorter than this (tokens)."})
    max_completion_tokens: int | None = field(
        default=None, metadata={"help": "Drop completions longer than this (tokens)."}
    )
    drop_truncated: bool = field(
        default=True, metadata={"help": "Drop completions that hit sample_max_new_tokens without finishing."}
    )
    eval_at_end: bool = field(
        default=True, metadata={"help": "Evaluate the SFT model on the held-out split at the end."}
    )

    def __post_init__(self) -> None:
        self.keep_rules = parse_keep_if(self.keep_if)
        for name in (
            "num_sample_prompts",
            "samples_per_prompt",
            "max_kept_per_prompt",
            "sample_max_new_tokens",
            "sample_batch_size",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.sample_temperature <= 0:
            raise ConfigError(
                f"sample_temperature must be > 0, got {self.sample_temperature}: greedy decoding would give "
                "samples_per_prompt identical completions"
            )
        if self.max_completion_tokens is not None and self.max_completion_tokens < self.min_completion_tokens:
            raise ConfigError(
                f"max_completion_tokens ({self.max_completion_tokens}) is below "
                f"min_completion_tokens ({self.min_completion_tokens})"
            )
        self.readability = ReadabilityRules(
            ngram_size=self.ngram_size,
            max_repeats=self.max_ngram_repeats,
            max_foreign=self.max_foreign_letters,
            min_words=self.min_reasoning_words,
        )
