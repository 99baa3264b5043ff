"""Every private part of TRL that r1lite relies on, named in one place and checked against the installed TRL.

TRL's private methods and state change between releases (``_generate_single_turn`` went from 3
to 5 parameters between 1.10 and 1.16), so r1lite pins TRL to the minor version it is tested on
(``pyproject.toml``) and ``R1ZeroTrainer`` checks this contract when it is built:
:func:`check_signatures` (the overridden methods still take the parameters r1lite passes on) and
:func:`check_state` (the private state it reads is there, in the shape it reads). A mismatch raises
:class:`TRLContractError` naming what moved, instead of a wrong number or an ``AttributeError``
deep inside a step. ``tests/test_trl_contract.py`` runs both against the installed TRL, and each
override has a test against TRL's own numbers (``tests/test_trainer.py``, ``tests/test_gpu_path.py``).

Public hooks considered: TRL 1.16 passes reward functions ``log_metric`` (a scalar averaged over
ranks) and ``log_extra`` (a column of the completions table). The behaviour metrics need the whole
gathered batch (length percentiles), and the rollout log needs every rank's completions with their
advantages, which reward functions never see; so r1lite reads TRL's ``_logs`` and writes
``_metrics`` instead, as named below.
"""

from __future__ import annotations

import importlib
import inspect
from collections import deque

import torch
import trl
from trl import GRPOTrainer

TESTED_TRL = "1.16"

# GRPOTrainer methods that R1ZeroTrainer (or its speed layer, r1lite.speedups.hooks.SpeedHooks) overrides -> the
# parameters (after self) that it relies on, in order.
OVERRIDDEN: dict[str, tuple[str, ...]] = {
    # stop strings (HF stopping criteria) and an EOS after stopped rows; the speed layer's generation contexts
    "_generate_single_turn": ("prompt_ids", "images", "multimodal_fields", "num_generations", "has_tool_images"),
    # the speed layer's training pass: shared prefixes, completion-only logits on the CPU
    "_get_per_token_logps_and_entropies": (
        "model",
        "input_ids",
        "attention_mask",
        "logits_to_keep",
        "batch_size",
        "compute_entropy",
        "compute_aux_loss",
    ),
    # each round's completion lengths and truncation, for the behaviour metrics and the rollout log
    "_generate": ("prompts",),
    # behaviour metrics, rollout log, dynamic sampling and the twin baseline after TRL scored a round
    "_generate_and_score_completions": ("inputs",),
    # whole prompt groups per micro-batch (r1lite.speedups.group_shuffle swaps the shuffle it looks up)
    "_prepare_inputs": ("generation_batch",),
}

# Private or undocumented trainer state that R1ZeroTrainer reads or writes -> what it must be.
STATE = {
    "_logs": "dict of deques holding the last round: prompt, completion, advantages, rewards[name]",
    "_metrics": "{'train': defaultdict(list)} of metric name -> values, averaged at each log",
    "_tokenizer": "the tokenizer inside processing_class",
    "eos_token_ids": "list of token ids that end a completion",
    "reward_func_names": "list of reward function names, in reward_funcs order",
    "reward_weights": "1-D tensor of one weight per reward function",
    "num_generations": "completions per prompt",
    "max_completion_length": "token cap of a completion",
    "temperature": "sampling temperature (log-probs are divided by it)",
    "use_vllm": "whether generation goes through vLLM",
}
# Only with use_vllm and vllm_mode colocate: the engine r1lite frees after training (release_vllm).
VLLM_STATE = {"vllm_generation": "TRL's VLLMGeneration; its .llm is the colocated vllm.LLM"}

# Behaviour of TRL's code that r1lite relies on, each read from a line of its source: (object, marker, why).
SOURCE_MARKERS = (
    # the shared-prefix pass scores through TRL's fused LM head with one label per packed position
    ("trl.trainer.utils:add_fused_lm_head", "shift_labels", "the fused head takes pre-shifted labels"),
    # an EOS appended after a stop string has a NaN sampling log-prob: TRL applies no correction to it
    (
        "trl.trainer.grpo_trainer:GRPOTrainer._generate_and_score_completions",
        "nan_to_num(per_token_logps_diff",
        "a NaN sampling log-prob gives an importance ratio of 1",
    ),
    # the twin baseline replaces the round's advantages: TRL logs the gathered ones, each process trains its slice
    (
        "trl.trainer.grpo_trainer:GRPOTrainer._generate_and_score_completions",
        'self._logs["advantages"].extend(all_process_advantages',
        "TRL's advantage log holds the whole gathered round",
    ),
    (
        "trl.trainer.grpo_trainer:GRPOTrainer._generate_and_score_completions",
        "self.accelerator.process_index * len(prompts)",
        "each process trains rows process_index * len(prompts) onward of the gathered round",
    ),
    # the reference model is built in args.model_init_kwargs["dtype"] when given (r1lite.training.reference_model)
    (
        "trl.trainer.grpo_trainer:GRPOTrainer.__init__",
        'model_init_kwargs.setdefault("dtype"',
        "the reference model's dtype comes from model_init_kwargs first",
    ),
)

# Private functions r1lite imports: module -> name (r1lite.speedups.completion_logits.use_triton).
IMPORTS = {"trl.kernels.chunked_logprob": "_use_triton"}
# Module-level names of TRL that r1lite swaps while TRL runs: module -> name.
SWAPPED = {"trl.trainer.grpo_trainer": "shuffle_sequence_dict"}


class TRLContractError(RuntimeError):
    """The installed TRL moved a private part that r1lite relies on."""


def _installed() -> str:
    return trl.__version__


def check_signatures(trainer_class=None) -> list[str]:
    """Each overridden method of TRL's GRPOTrainer still takes the parameters r1lite relies on; problems as text."""
    if trainer_class is None:
        trainer_class = GRPOTrainer
    problems = []
    for module, name in SWAPPED.items():
        if not callable(getattr(importlib.import_module(module), name, None)):
            problems.append(f"{module}.{name} is gone")
    for target, marker, why in SOURCE_MARKERS:
        module, _, path = target.partition(":")
        obj = importlib.import_module(module)
        for part in path.split("."):
            obj = getattr(obj, part, None)
        if obj is None or marker not in inspect.getsource(obj):
            problems.append(f"{module}.{path} no longer shows {marker!r} ({why})")
    for name, expected in OVERRIDDEN.items():
        method = getattr(trainer_class, name, None)
        if method is None:
            problems.append(f"GRPOTrainer.{name} is gone")
            continue
        params = [p for p in inspect.signature(method).parameters if p != "self"]
        if tuple(params[: len(expected)]) != expected:
            problems.append(
                f"GRPOTrainer.{name} takes ({', '.join(params)}); r1lite expects ({', '.join(expected)}, ...)"
            )
    return problems


def check_state(trainer) -> list[str]:
    """The private state r1lite reads is present on a built trainer, in the shape it reads; problems as text."""
    problems = [
        f"GRPOTrainer has no attribute {name!r} ({what})" for name, what in STATE.items() if not hasattr(trainer, name)
    ]
    logs = getattr(trainer, "_logs", None)
    if isinstance(logs, dict):
        for key in ("prompt", "completion", "advantages"):
            if not isinstance(logs.get(key), deque):
                problems.append(f"GRPOTrainer._logs[{key!r}] is not a deque")
        if not hasattr(logs.get("rewards"), "__getitem__"):
            problems.append("GRPOTrainer._logs['rewards'] is not a mapping of reward name -> values")
        maxlen = getattr(logs.get("completion"), "maxlen", None)
        if maxlen is not None and maxlen < trainer.args.generation_batch_size:
            problems.append(
                f"GRPOTrainer._logs keeps {maxlen} rows, fewer than a round ({trainer.args.generation_batch_size})"
            )
    elif logs is not None:
        problems.append("GRPOTrainer._logs is not a dict")
    metrics = getattr(trainer, "_metrics", None)
    if metrics is not None and not (isinstance(metrics, dict) and "train" in metrics):
        problems.append("GRPOTrainer._metrics has no 'train' store")
    weights = getattr(trainer, "reward_weights", None)
    if weights is not None and not (isinstance(weights, torch.Tensor) and weights.dim() == 1):
        problems.append("GRPOTrainer.reward_weights is not a 1-D tensor")
    if getattr(trainer, "use_vllm", False) and trainer.args.vllm_mode == "colocate":
        if not hasattr(getattr(trainer, "vllm_generation", None), "llm"):
            problems.append(f"GRPOTrainer.vllm_generation.llm is gone ({VLLM_STATE['vllm_generation']})")
    return problems


def verify(trainer) -> None:
    """Raise TRLContractError naming every private part of TRL that moved (called when a trainer is built)."""
    problems = check_signatures() + check_state(trainer)
    if problems:
        raise TRLContractError(
            f"TRL {_installed()} moved private parts that r1lite {TESTED_TRL}-tested overrides rely on: "
            + "; ".join(problems)
            + f". Install trl=={TESTED_TRL}.* (pip install -e .) or update r1lite/training/trl_contract.py"
        )
