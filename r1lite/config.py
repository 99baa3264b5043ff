"""Recipe configuration: what r1lite adds to TRL's ``GRPOConfig`` and ``ModelConfig``.

A recipe YAML holds the fields of three dataclasses at once (TRL's ``TrlParser`` splits them):
``TaskConfig`` (below: data, difficulty, prompt, rewards, evaluation), ``R1ZeroConfig`` (below:
TRL's ``GRPOConfig`` for optimisation, generation, loss, vLLM, logging and checkpoints, plus
r1lite's trainer switches) and TRL's ``ModelConfig`` (model path, dtype, LoRA). A key that none of
them knows is an error.
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from trl import GRPOConfig, TrlParser

from r1lite.errors import ConfigError, PathNotFoundError, UserError, did_you_mean
from r1lite.inspection.behaviour import DEFAULT_REFLECTION_WORDS
from r1lite.requirements import check_launcher, parse_or_explain
from r1lite.task.countdown import check_operators
from r1lite.task.curriculum import Level, from_task
from r1lite.task.prompts import FEW_SHOT, FEW_SHOT_COMPARE, FEW_SHOT_DEFAULT, check_shots
from r1lite.task.prompts import TEMPLATES as PROMPT_TEMPLATES

# TRL 1.16 passes transformers' gradient-checkpointing names that 5.x deprecates, when a config is built and
# when the model is wrapped: nothing a recipe can change. Filtered here, where every entry point (zero, sft,
# pipeline) builds its config.
warnings.filterwarnings(
    "ignore", message=r"`(is_)?gradient_checkpointing(_enable)?` is deprecated", category=FutureWarning
)

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def parse_recipe(classes: tuple, default_recipe: Path, argv: list[str] | None = None) -> tuple:
    """Parse ``--config recipe.yaml`` plus ``--key value`` overrides into ``classes`` with TRL's ``TrlParser``.

    No ``--config`` means ``default_recipe``. Every mistake here is the user's and ends as a
    :class:`~r1lite.errors.ConfigError`: a key that none of the classes knows (with the closest known
    keys), a value of the wrong type, settings the configs' own checks refuse, a missing or malformed
    recipe file; a missing engine package or a GPU recipe on a machine without a GPU is a
    ``MissingPackageError`` or ``NoGPUError``.
    """
    check_launcher()  # parsing sets up the distributed state, which needs the launcher's engine installed
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--config" not in argv:
        argv = ["--config", str(default_recipe), *argv]
    recipe = argv[argv.index("--config") + 1] if argv.index("--config") + 1 < len(argv) else None
    if recipe is None or not Path(recipe).is_file():
        raise PathNotFoundError(f"--config {recipe}: no such recipe file")
    parser = _RecipeParser(classes)

    def parse(args):
        try:
            *parsed, from_file, from_command = parser.parse_args_and_config(
                args=args, return_remaining_strings=True, separate_remaining_strings=True
            )
        except yaml.YAMLError as err:
            raise ConfigError(f"{recipe} is not valid YAML: {' '.join(str(err).split())}") from err
        _refuse_unknown(from_file, f"in {recipe}", parser)
        _refuse_unknown(from_command, "on the command line", parser)
        return tuple(parsed)

    try:
        return parse_or_explain(parse, argv)
    except UserError:
        raise
    except ValueError as err:  # the configs' own checks (TRL's __post_init__ and ours) refuse the settings
        raise ConfigError(" ".join(str(err).split())) from err


def _known_keys(parser) -> set[str]:
    # HfArgumentParser also accepts --dashed-aliases of every --key; suggest the key itself
    return {
        option[2:].replace("-", "_")
        for action in parser._actions
        for option in action.option_strings
        if option.startswith("--")
    }


def _refuse_unknown(remaining: list[str], where: str, parser) -> None:
    if not remaining:
        return
    keys = [item[2:].split("=")[0] for item in remaining if item.startswith("--")]
    if not keys:
        raise ConfigError(f"unexpected value(s) {remaining} {where}: options take the form --key value")
    known = _known_keys(parser)
    hints = "; ".join(f"{key!r}{did_you_mean(key, known)}" for key in keys)
    raise ConfigError(f"unknown recipe key{'s' if len(keys) > 1 else ''} {where}: {hints}")


class _RecipeParser(TrlParser):
    """TRL's parser whose usage errors (a value of the wrong type, say) are one-line ConfigErrors."""

    def error(self, message):
        raise ConfigError(f"{message}; fix the recipe or the command line (see --help)")


def _level_share(shares: list[float], level: int) -> float:
    """One share for every level, or one per level; none is 0 (no cap)."""
    return 0.0 if not shares else shares[min(level, len(shares) - 1)]


@dataclass
class TaskConfig:
    """The task side of a recipe: which puzzles, which prompt, which rewards, how to evaluate.

    Everything here is about the task, so later stages (rejection sampling, evaluation) read it back
    from the run's task record; how the trainer runs is ``R1ZeroConfig``'s business."""

    dataset_name: str = field(
        default="countdown",
        metadata={
            "help": "'countdown' generates puzzles locally (offline); otherwise a hub dataset id such as "
            "'Jiayi-Pan/Countdown-Tasks-3to4', or a local data set folder/JSON(L) file, with columns nums and target."
        },
    )
    num_train_puzzles: int = field(default=20_000, metadata={"help": "How many training puzzles to generate."})
    min_numbers: int = field(default=3, metadata={"help": "Fewest numbers per generated puzzle (2 to 6)."})
    max_numbers: int = field(default=4, metadata={"help": "Most numbers per generated puzzle (2 to 6)."})
    max_number: int = field(
        default=100, metadata={"help": "Largest number in a generated puzzle (numbers are 1..max_number)."}
    )
    target_min: int = field(default=1, metadata={"help": "Smallest target of a generated puzzle."})
    target_max: int = field(default=100, metadata={"help": "Largest target of a generated puzzle."})
    operators: str = field(
        default="+-*/",
        metadata={
            "help": "The operations a generated puzzle's solution may use, some of '+-*/'. With '+-' on 2 numbers "
            "every target is the sum or the difference, half of each: no fixed answer shape solves more than about "
            "half, and reading the target (above the larger number: add; below: subtract) solves all. Applies to "
            "every curriculum level, the held-out puzzles and their target twins."
        },
    )
    max_template_share: list[float] = field(
        default_factory=list,
        metadata={
            "help": "With generated puzzles: draw the training set so that no fixed answer template (one answer shape "
            "over the numbers in the given order, such as 'a - b + c') solves more than this share of it, each in "
            "(0, 1): one value for every level, or one per curriculum level. Empty keeps the generator's mix, where "
            "one template solves 20-45%. See r1lite/task/balanced.py."
        },
    )
    eval_template_share: list[float] = field(
        default_factory=list,
        metadata={
            "help": "Draw the held-out puzzles so that no fixed answer template solves "
            "more than this share of them, each in (0, 1): one value for every level, or one per curriculum level. "
            "A model that ignores the target then scores at most this share, so beating it shows the target is "
            "read. Empty evaluates the generator's mix."
        },
    )
    train_twins: bool = field(
        default=False,
        metadata={
            "help": "With generated puzzles: serve each training puzzle beside its target twin (the same numbers, "
            "another reachable target), in adjacent rows, so a fixed answer shape solves at most one of each pair. "
            "Needs shuffle_dataset: false (the generator's order is already random) and an even number of prompts "
            "per generation batch. See r1lite/task/balanced.py."
        },
    )
    puzzle_seed: int = field(
        default=0, metadata={"help": "Seed of the puzzle generator (the trainer's own seed is `seed`)."}
    )
    prompt_template: str = field(
        default="base",
        metadata={
            "help": "Prompt: 'base' (TinyZero's template, for base models), 'chat' (the model's chat template) or "
            "'chat_one_shot' (chat template plus one worked example), 'chat_few_shot' (solved 2-number "
            "puzzles as earlier chat turns, few_shot_examples of them) or 'chat_compare' (the same with sum-or-"
            "difference puzzles whose reasoning compares the target with the larger number first; for operators "
            "'+-'), 'chat_compare_sum_last' (its examples in reverse order, ending on a sum) or 'chat_try' (the "
            "same puzzles, whose reasoning tries the sum, checks it against the target "
            "and on a miss tries the difference). All end in the '<think>' prefill."
        },
    )
    few_shot_examples: int = field(
        default=FEW_SHOT_DEFAULT,
        metadata={
            "help": f"How many solved puzzles chat_few_shot (1 to {len(FEW_SHOT)}), chat_compare(_sum_last) or "
            f"chat_try (1 to {len(FEW_SHOT_COMPARE)}) shows before the question (each adds about 100 tokens to every "
            "prompt)."
        },
    )
    reward_funcs: list[str] = field(
        default_factory=lambda: ["equation_reward", "format_reward"],
        metadata={
            "help": "Reward functions by name: a built-in name, 'package.module:function', or an entry point of the "
            "'r1lite.rewards' group. Weights go in `reward_weights`."
        },
    )
    eval_puzzles: int = field(default=64, metadata={"help": "Size of the fixed held-out split used for evaluation."})
    eval_every: int = field(
        default=0, metadata={"help": "Evaluate on the held-out split every N optimizer steps (0: only at the end)."}
    )
    eval_at_end: bool = field(default=True, metadata={"help": "Evaluate the final model on the held-out split."})
    eval_at_start: bool | None = field(
        default=None,
        metadata={
            "help": "Evaluate the starting model too, so the run ends with a before-and-after table on the same "
            "puzzles. Unset: only when eval_every is set (the curve then starts at step 0); false skips it even "
            "then (e.g. seeds of one recipe, whose untrained row comes once from elsewhere)."
        },
    )
    eval_twins: bool = field(
        default=True,
        metadata={
            "help": "In the final evaluation, also evaluate each held-out puzzle's target twin (the same numbers, "
            "another reachable target) and report how often the answer changes: a model that reads the target "
            "changes it, a fixed answer template does not (r1lite/task/baselines.py). Doubles the final evaluation."
        },
    )
    eval_batch_size: int = field(default=32, metadata={"help": "Prompts per generation batch during evaluation."})
    curriculum_levels: list[str] = field(
        default_factory=list,
        metadata={
            "help": "Difficulty levels from easiest to hardest, each NUMBERS/MAX_NUMBER/TARGET_MIN-TARGET_MAX (e.g. "
            "'2/10/1-20', '2-3/20/1-50'); training starts on the first and moves up by curriculum_metric. Empty: the "
            "single difficulty of min_numbers ... target_max. See r1lite/task/curriculum.py."
        },
    )
    curriculum_stages: list[str] = field(
        default_factory=list,
        metadata={
            "help": "Reward stages, each 'reward=weight,reward=weight' over names in reward_funcs (others weigh 0), "
            "advancing with the levels. Empty: reward_weights throughout."
        },
    )
    curriculum_metric: str = field(
        default="accuracy",
        metadata={"help": "What promotes: 'accuracy' or 'format_rate' (the step's behaviour metric), or 'steps'."},
    )
    curriculum_threshold: float = field(
        default=0.3, metadata={"help": "Promote when the metric's mean over curriculum_window steps reaches this."}
    )
    curriculum_window: int = field(default=4, metadata={"help": "Logged steps averaged by the promotion rule."})
    curriculum_steps: list[int] = field(
        default_factory=list, metadata={"help": "With curriculum_metric 'steps': the steps at which the rung changes."}
    )
    curriculum_mix: float = field(
        default=0.0,
        metadata={
            "help": "At a curriculum level above the first, this share of the training puzzles comes from the earlier "
            "levels (spread evenly over them), so that the easier puzzles are not forgotten; in [0, 1)."
        },
    )

    def __post_init__(self) -> None:
        if self.curriculum_levels and self.dataset_name != "countdown":
            raise ConfigError(
                f"curriculum_levels generate each level's puzzles, so they need dataset_name: countdown, not "
                f"{self.dataset_name!r}; drop curriculum_levels (reward stages alone work with any data set)"
            )
        if self.max_template_share and self.dataset_name != "countdown":
            raise ConfigError(
                f"max_template_share={self.max_template_share} draws generated puzzles, so it needs dataset_name: "
                f"countdown, not {self.dataset_name!r}; leave it empty for another data set"
            )
        if self.train_twins and self.dataset_name != "countdown":
            raise ConfigError(
                "train_twins pairs generated puzzles, so it needs dataset_name: countdown, not "
                f"{self.dataset_name!r}; set it to false for another data set"
            )
        for name, puzzles in (("max_template_share", "training"), ("eval_template_share", "held-out")):
            shares = getattr(self, name)
            if not all(0 < share < 1 for share in shares):
                raise ConfigError(
                    f"{name}={shares} holds a value that is not a share in (0, 1): 0.1 keeps every answer template "
                    f"under 10% of the {puzzles} puzzles; an empty list turns the cap off"
                )
            if len(shares) not in (0, 1, max(1, len(self.curriculum_levels))):
                raise ConfigError(
                    f"{name} has {len(shares)} values for {len(self.curriculum_levels)} curriculum levels: give one "
                    "value for every level, or one per level"
                )
        if not 0 <= self.curriculum_mix < 1:
            raise ConfigError(
                f"curriculum_mix={self.curriculum_mix} is not a share in [0, 1): 0.25 draws a quarter of a later "
                "level's puzzles from the earlier levels; 0 turns mixing off"
            )
        if self.curriculum_mix and len(self.curriculum_levels) < 2:
            raise ConfigError(
                f"curriculum_mix={self.curriculum_mix} mixes earlier curriculum levels into later ones, but "
                f"curriculum_levels has {len(self.curriculum_levels)}: give at least two levels, or set it to 0"
            )
        self.curriculum = from_task(self)  # checks the ladder before anything loads
        if self.prompt_template not in PROMPT_TEMPLATES:
            *others, last = (repr(name) for name in PROMPT_TEMPLATES if name != "base")
            raise ConfigError(
                f"prompt_template={self.prompt_template!r} is not one of {PROMPT_TEMPLATES}: use 'base' for base "
                f"models (TinyZero) and {', '.join(others)} or {last} for instruct models."
            )
        check_shots(self.few_shot_examples, self.prompt_template)
        if not 2 <= self.min_numbers <= self.max_numbers <= 6:
            raise ConfigError(
                f"need 2 <= min_numbers <= max_numbers <= 6, got min_numbers={self.min_numbers}, "
                f"max_numbers={self.max_numbers}"
            )
        if self.target_min > self.target_max:
            raise ConfigError(f"target_min ({self.target_min}) is above target_max ({self.target_max})")
        if not self.reward_funcs:
            raise ConfigError("reward_funcs is empty: name at least one reward, e.g. [equation_reward, format_reward]")
        for name in ("num_train_puzzles", "eval_puzzles", "eval_batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        check_operators(self.operators)
        if self.eval_every < 0:
            raise ConfigError(f"eval_every must be 0 (off) or a positive step count, got {self.eval_every}")

    def template_share(self, level: int = 0) -> float:
        """The template cap of curriculum level ``level`` (0: none)."""
        return _level_share(self.max_template_share, level)

    def heldout_share(self, level: int = 0) -> float:
        """The template cap of curriculum level ``level``'s held-out puzzles (0: none)."""
        return _level_share(self.eval_template_share, level)

    @property
    def level(self):
        """The recipe's own difficulty (min_numbers ... target_max) as a ``r1lite.task.curriculum.Level``."""
        return Level(
            self.min_numbers, self.max_numbers, self.max_number, self.target_min, self.target_max, self.operators
        )

    @property
    def difficulty(self) -> dict:
        """Keyword arguments of ``r1lite.task.countdown.generate`` that set the puzzles' difficulty."""
        return self.level.difficulty


# The switches of the speed layer's modules (r1lite/speedups/); speedups: false turns every one off.
SPEED_SWITCHES = ("shared_prefix", "completion_only_logits", "cast_weights_once", "inverse_cdf_sampling")


@dataclass
class R1ZeroConfig(GRPOConfig):
    """TRL's ``GRPOConfig`` plus r1lite's trainer switches: the work of one update stated independently
    of the number of processes, the rollout log and behaviour metrics, stop strings, dynamic sampling and
    completion-only logits on the CPU. ``R1ZeroTrainer`` reads them from ``self.args``."""

    prompts_per_update: int | None = field(
        default=None,
        metadata={
            "help": "Prompts per optimizer update across all processes; each gives num_generations completions. When "
            "set, gradient_accumulation_steps is derived from the number of processes, so one recipe trains the same "
            "way on 1, 2, 8 or 16 GPUs: prompts_per_update * num_generations / (per_device_train_batch_size * "
            "processes). Leave gradient_accumulation_steps, generation_batch_size and steps_per_generation unset."
        },
    )
    speedups: bool = field(
        default=True,
        metadata={
            "help": "The speed layer (r1lite/speedups/): shared prefixes, completion-only logits, weights cast once, "
            "inverse-CDF sampling, each also switchable below. false: every one of them off, whatever its own switch "
            "says, so the run takes TRL's exact path (the same numbers as GRPOTrainer for a seed)."
        },
    )
    completion_only_logits: bool = field(
        default=True,
        metadata={
            "help": "Without Triton (on a CPU), compute logits for completion positions only instead of TRL's "
            "all-positions fallback. No effect on CUDA, where TRL already does this."
        },
    )
    shared_prefix: bool = field(
        default=True,
        metadata={
            "help": "Shared prefixes: generation prefills each distinct prompt once and decodes its group from one "
            "cached copy of it; the training pass packs the completions of one prompt into one sequence after a "
            "single copy of the prompt (grouped attention keeps them apart), so each prompt is computed once per "
            "group, not once per completion; the same log-probabilities and gradients as TRL's pass. Falls back to "
            "TRL's pass, with one log line, for attention other than sdpa/eager (flash attention), sliding windows "
            "or soft-capping."
        },
    )
    inverse_cdf_sampling: bool = field(
        default=True,
        metadata={
            "help": "On the CPU, draw each sampled token by inverse CDF (one uniform per row) instead of "
            "torch.multinomial (one exponential per vocabulary entry, serial on the CPU): the same distribution, "
            "a different random stream; false gives TRL's tokens for a seed (r1lite/speedups/sampling.py)."
        },
    )
    cast_weights_once: bool = field(
        default=True,
        metadata={
            "help": "Under bf16 autocast, cast the fp32 weights to bf16 once per HF generate call instead of once per "
            "decoded token (r1lite/speedups/autocast.py): the same tokens, a bf16 copy of the weights held while "
            "generating. No effect without mixed precision."
        },
    )
    rollout_log: bool = field(
        default=True,
        metadata={"help": "Write every completion with its rewards and advantage to <output_dir>/rollouts/."},
    )
    stop_strings: list[str] = field(
        default_factory=list,
        metadata={
            "help": "Stop a completion when its text ends with one of these, e.g. ['</answer>'] (TinyZero does): "
            "rows that have answered stop costing decoding steps. Empty: stop at end-of-sequence only."
        },
    )
    dynamic_sampling: bool = field(
        default=False,
        metadata={
            "help": "DAPO's dynamic sampling: replace completions of zero-variance groups (zero advantage, "
            "no gradient) by completions of fresh prompts, for at most dynamic_sampling_max_rounds extra "
            "generation rounds."
        },
    )
    dynamic_sampling_max_rounds: int = field(
        default=2, metadata={"help": "Most extra generation rounds per step for dynamic_sampling."}
    )
    twin_baseline: bool = field(
        default=False,
        metadata={
            "help": "With train_twins: centre each completion's reward on the mean of its puzzle's group and its "
            "target twin's group together (the same numbers, another target), not on its own group's, and scale by "
            "their std as scale_rewards says. What pays on both targets alike (a target-blind habit) cancels; what "
            "pays on one target and not the other is trained (r1lite/training/twin_baseline.py)."
        },
    )
    reflection_words: list[str] = field(
        default_factory=lambda: list(DEFAULT_REFLECTION_WORDS),
        metadata={
            "help": "Phrases counted as reflection in the behaviour metrics (behaviour/reflection_rate, the rollout "
            "log's `reflections`): whole words, case-insensitive. "
            "Default: r1lite.inspection.behaviour.DEFAULT_REFLECTION_WORDS."
        },
    )

    guard_window: int = field(
        default=3,
        metadata={"help": "Collapse guards (r1lite/inspection/guards.py): steps in a row a condition must hold."},
    )
    guard_template_share: float = field(
        default=0.8,
        metadata={
            "help": "Warn when the most common answer shape takes at least this share of a step's answers "
            "(template collapse); 0 turns the guard off."
        },
    )
    guard_format_steps: int = field(
        default=8,
        metadata={"help": "Warn when the format is saturated and accuracy stays 0 for this many steps; 0: off."},
    )
    guard_length_ratio: float = field(
        default=0.3,
        metadata={"help": "Warn when the mean length falls below this share of its largest value so far; 0: off."},
    )
    guard_entropy: float = field(
        default=0.05,
        metadata={"help": "Warn when TRL's mean token entropy falls below this (entropy collapse); 0: off."},
    )

    def __post_init__(self) -> None:
        if not self.speedups:  # one switch for the whole speed layer: TRL's path
            for name in SPEED_SWITCHES:
                setattr(self, name, False)
        guards = ("guard_window", "guard_template_share", "guard_format_steps", "guard_length_ratio", "guard_entropy")
        for name in guards:
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be 0 (off) or positive, got {getattr(self, name)}")
        if self.dynamic_sampling_max_rounds < 1:
            raise ConfigError(
                f"dynamic_sampling_max_rounds must be at least 1, got {self.dynamic_sampling_max_rounds}"
            )
        if self.twin_baseline and self.dynamic_sampling:
            raise ConfigError(
                "twin_baseline needs each puzzle's twin in the same round, and dynamic_sampling refills rounds with "
                "single fresh prompts: turn one of them off"
            )
        if self.twin_baseline and self.multi_objective_aggregation != "sum_then_normalize":
            raise ConfigError(
                "twin_baseline centres the weighted sum of the rewards: set multi_objective_aggregation: "
                f"sum_then_normalize (got {self.multi_objective_aggregation})"
            )
        if any(not s for s in self.stop_strings):
            raise ConfigError(
                f"stop_strings holds an empty string ({self.stop_strings!r}): it would stop every completion at once"
            )
        if self.stop_strings and self.use_vllm:  # vLLM stops through its sampling parameters
            self.generation_kwargs = {
                **(self.generation_kwargs or {}),
                "stop": list(self.stop_strings),
                "include_stop_str_in_output": True,
            }
        if self.prompts_per_update is not None:
            if self.prompts_per_update < 1:
                raise ConfigError(f"prompts_per_update must be at least 1, got {self.prompts_per_update}")
            taken = [n for n in ("generation_batch_size", "steps_per_generation") if getattr(self, n) is not None]
            if self.gradient_accumulation_steps != 1:
                taken.insert(0, "gradient_accumulation_steps")
            if taken:
                raise ConfigError(
                    f"prompts_per_update={self.prompts_per_update} sets the batch, and so does {', '.join(taken)}: "
                    "keep one of them (prompts_per_update gives the same update on any number of processes)"
                )
        super().__post_init__()
        if self.prompts_per_update is not None:
            self._derive_accumulation()
        self._check_whole_groups()

    def _check_whole_groups(self) -> None:
        """With shared prefixes on several processes, every micro-batch must hold whole prompt groups.

        The shared-prefix pass runs one packed forward per chunk of whole groups; were a micro-batch to
        hold part of a group, ranks could run different numbers of forwards, which under ZeRO-3 or FSDP
        (a collective per layer) hangs, and under DDP fails at the backward."""
        if (
            not self.shared_prefix
            or self.world_size < 2
            or self.per_device_train_batch_size % self.num_generations == 0
        ):
            return
        raise ConfigError(
            f"per_device_train_batch_size={self.per_device_train_batch_size} is not a multiple of num_generations="
            f"{self.num_generations}: on {self.world_size} processes shared prefixes need whole prompt groups per "
            "micro-batch; choose a multiple (or set shared_prefix: false)"
        )

    def _derive_accumulation(self) -> None:
        completions = self.prompts_per_update * self.num_generations
        per_micro_step = self.per_device_train_batch_size * self.world_size
        if completions % per_micro_step:
            raise ConfigError(
                f"an update of {self.prompts_per_update} prompts x {self.num_generations} completions = {completions} "
                f"does not split into steps of {self.per_device_train_batch_size} per device x {self.world_size} "
                "processes; choose a per_device_train_batch_size (or a prompts_per_update) that divides it"
            )
        steps = completions // per_micro_step
        self.gradient_accumulation_steps = steps
        self.steps_per_generation = steps
        self.generation_batch_size = completions

    def update_size(self) -> str:
        """One line: the work of one update and how it is split over processes and accumulation steps."""
        completions = self.generation_batch_size
        return (
            f"one update: {completions // self.num_generations} prompts x {self.num_generations} completions = "
            f"{completions} completions = {self.per_device_train_batch_size} per device x {self.world_size} processes "
            f"x {self.gradient_accumulation_steps} accumulation steps"
        )


def r1lite_switches(training: R1ZeroConfig) -> dict:
    """The fields R1ZeroConfig adds to TRL's GRPOConfig, with their values (for run_summary.json)."""
    own = set(R1ZeroConfig.__dataclass_fields__) - set(GRPOConfig.__dataclass_fields__)
    return {name: getattr(training, name) for name in sorted(own)}
