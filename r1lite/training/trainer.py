"""``R1ZeroTrainer``: TRL's ``GRPOTrainer`` plus the R1-Zero features: a rollout log, behaviour metrics,
stop strings and dynamic sampling (the curriculum is a callback, ``r1lite.training.curriculum``).

It overrides private methods of TRL's trainer and reads some of its private state; all of them are
named, and checked when the trainer is built, in ``r1lite.training.trl_contract``.

Stop strings (``stop_strings``, e.g. ``["</answer>"]`` as TinyZero): HF generation stops a row at the
token that completes one of them (transformers' ``StopStringCriteria``); the stopped row's padding is
not part of its completion (where the pad token is the EOS token, as for SmolLM2, one EOS stays: the
model learns to end there). With vLLM, ``R1ZeroConfig`` passes them as vLLM's ``stop`` instead.

Dynamic sampling (``dynamic_sampling``, DAPO's): after a generation round, rows whose advantage is
zero (their whole group got one reward: no gradient) are replaced by completions of fresh random
training prompts, for at most ``dynamic_sampling_max_rounds`` extra rounds; see
``r1lite.training.dynamic_sampling``. Logged: ``dynamic_sampling/dropped_fraction`` (first round),
``extra_rounds``, ``signal_fraction`` (rows with signal in the batch that trains). Extra rounds are
in the rollout log as ``step-NNNNNN-XXXX.jsonl`` and in TRL's reward metrics of the step.

Twin baseline (``twin_baseline``, with ``train_twins``): each completion's advantage is its reward less the
mean of its puzzle's group and its target twin's group together, so what pays on both targets alike cancels;
see ``r1lite.training.twin_baseline``. Logged: ``twin_baseline/pair_gap`` (mean reward gap between a puzzle's
group and its twin's).

The speed layer (``r1lite.speedups``: shared prefixes in generation and in the training pass,
completion-only logits on the CPU, weights cast once per generation, inverse-CDF sampling) comes in
through one mixin, ``SpeedHooks``; ``speedups: false`` gives TRL's exact path.

Rollout log schema (one JSON object per completion, one file per generation round, written once by
the main process after gathering every rank's completions):

    <output_dir>/rollouts/step-000012.jsonl
    step          int    optimizer step at which the completions were generated (0-based: before the update)
    index         int    position in the gathered generation batch (groups of num_generations are contiguous)
    group         int    prompt group within the batch (index // num_generations)
    prompt        str    the prompt text (or message list for conversational data)
    completion    str    the decoded completion (special tokens removed)
    nums, target         the puzzle (any other data set column that reached the reward functions is left out)
    rewards       dict   {reward function name: value or null}
    reward        float  weighted sum of the rewards (what the advantage is computed from)
    advantage     float  the GRPO advantage of this completion
    length        int    completion tokens
    truncated     bool   hit max_completion_length without an end-of-sequence token
    formatted, correct, reflections, candidates, answer_position
                         behaviour fields of the completion (meanings in ``r1lite.inspection.behaviour``)

Behaviour metrics: every generation round in training, the batch's ``r1lite.inspection.behaviour.summarize``
metrics (format rate, accuracy, length percentiles, truncation, reflection rate, candidate equations,
answer position) go into TRL's metric store as ``behaviour/<name>``, so they reach ``log_history``,
the console and every reporter (tensorboard, wandb, trackio) with TRL's own metrics. Each process
computes them over the whole gathered batch, so every rank logs the same numbers.
"""

from __future__ import annotations

import json
import logging
import os
import random

import torch
from accelerate.utils import gather_object
from trl import GRPOTrainer
from trl.trainer.utils import get_config_model_id

from r1lite.config import R1ZeroConfig
from r1lite.inspection.behaviour import completion_behaviour, summarize
from r1lite.models import free_memory, replaced_generate
from r1lite.speedups.hooks import SpeedHooks
from r1lite.task.evaluation import stop_criteria
from r1lite.training.dynamic_sampling import merge, signal_rows
from r1lite.training.reference_model import reference_in_compute_dtype
from r1lite.training.trl_contract import verify
from r1lite.training.twin_baseline import check_pairs, twin_advantages, weighted_rewards

logger = logging.getLogger(__name__)

# The sampling log-prob of a token the sampler did not draw (an EOS after a stop string): TRL maps NaN
# to "no importance-sampling correction" (named in r1lite.training.trl_contract).
UNSAMPLED_LOGPROB = float("nan")


class R1ZeroTrainer(SpeedHooks, GRPOTrainer):
    """GRPOTrainer that logs behaviour metrics every round and records each round to ``<output_dir>/rollouts/``;
    its switches (rollout log, stop strings, dynamic sampling, reflection words, the speed layer's) are fields
    of ``args``, an ``r1lite.config.R1ZeroConfig``."""

    def __init__(self, *args, **kwargs):
        args = list(args)
        config = kwargs.get("args", args[2] if len(args) > 2 else None)
        if config is None:  # as TRL: a default config named after the model
            model = kwargs.get("model", args[0] if args else None)
            name = model if isinstance(model, str) else get_config_model_id(model.config)
            # TRL's default GRPOConfig asks for bf16, which TrainingArguments refuses without a GPU unless use_cpu
            config = R1ZeroConfig(f"{name.split('/')[-1]}-R1Zero", use_cpu=not torch.cuda.is_available())
            if len(args) > 2:
                args[2] = config
            else:
                kwargs["args"] = config
        if not isinstance(config, R1ZeroConfig):
            raise TypeError(f"R1ZeroTrainer needs args=R1ZeroConfig(...) (r1lite.config), got {type(config).__name__}")
        with reference_in_compute_dtype(config):
            super().__init__(*args, **kwargs)
        self._local_lengths: list[int] = []
        self._local_truncated: list[bool] = []
        self._stopping = None
        if self.args.stop_strings and not self.use_vllm:  # vLLM stops through generation_kwargs (R1ZeroConfig)
            self._stopping = stop_criteria(self._tokenizer, self.args.stop_strings)
        self._fresh_rng = random.Random(self.args.seed + 7919 * self.accelerator.process_index)
        verify(
            self
        )  # the private parts of TRL used below are where r1lite expects them (r1lite.training.trl_contract)

    def _generate_single_turn(self, *args, **kwargs):
        """TRL's generation with the stop strings as a stopping criterion of HF ``generate`` (vLLM stops through
        its sampling parameters), and an EOS after each row that a stop string ended."""
        if self._stopping is None or self.use_vllm:  # vLLM stops through generation_kwargs (R1ZeroConfig)
            completion_ids, logprobs = super()._generate_single_turn(*args, **kwargs)
        else:
            model = self.accelerator.unwrap_model(self.model)  # the object TRL's unwrap_model_for_generation yields

            def with_stops(generate):
                return lambda **inputs: generate(**inputs, stopping_criteria=self._stopping)

            with replaced_generate(model, with_stops):
                completion_ids, logprobs = super()._generate_single_turn(*args, **kwargs)
            pad = self._tokenizer.pad_token_id
            if pad is not None and pad not in self.eos_token_ids:
                # A stopped row is padded to the batch's length; TRL masks after EOS only, so drop the padding here.
                completion_ids = [_strip_trailing(ids, pad) for ids in completion_ids]
        if not self.args.stop_strings:
            return completion_ids, logprobs
        return self._end_stopped_rows(completion_ids, logprobs)

    def release_vllm(self) -> None:
        """Free the colocated vLLM engine and its GPU memory once training is over (TRL keeps it in
        ``vllm_generation.llm`` for the trainer's lifetime): a pipeline's rejection sampling starts its own."""
        generation = getattr(self, "vllm_generation", None)
        if generation is None or getattr(generation, "llm", None) is None:
            return
        generation.llm = None
        free_memory()

    def _end_stopped_rows(self, completion_ids: list[list[int]], logprobs):
        """Append EOS to each row that a stop string ended, so TRL counts it as finished, not truncated.

        TRL calls a completion truncated when its last token is not EOS or pad: that is its
        ``completions/clipped_ratio``, and with ``mask_truncated_completions`` the row leaves the loss.
        vLLM ends a stopped row at the stop string with no EOS, so without this every answered row would
        count as truncated and, masked, every correct answer would be dropped. The appended EOS is trained
        like any token (the model learns to end after the answer). The sampler never drew it, so its
        sampling log-probability is NaN, which TRL's importance-sampling correction reads as "no
        correction" (its ratio is 1: ``GRPOTrainer._generate_and_score_completions`` zeroes NaN
        differences); a 0.0 there would multiply the row's weight by p(EOS | answer), which for a base
        model is small, and push correct answers out of the gradient.
        """
        eos = self._tokenizer.eos_token_id
        finished = {*self.eos_token_ids, self._tokenizer.pad_token_id}
        stops = self.args.stop_strings
        span = max(len(s) for s in stops)  # every token holds at least one character
        for i, ids in enumerate(completion_ids):
            if not ids or ids[-1] in finished:
                continue
            tail = self._tokenizer.decode(ids[-span:], skip_special_tokens=True)
            if any(stop in tail for stop in stops):
                completion_ids[i] = [*ids, eos]
                if logprobs is not None:
                    logprobs[i] = [*logprobs[i], UNSAMPLED_LOGPROB]
        return completion_ids, logprobs

    def _generate(self, prompts: list):
        result = super()._generate(prompts)
        if self.model.training:
            completion_ids = result[1]
            eos = {*self.eos_token_ids, self._tokenizer.pad_token_id}
            max_len = self.max_completion_length
            self._local_lengths = [len(ids) for ids in completion_ids]
            self._local_truncated = [len(ids) >= max_len and (not ids or ids[-1] not in eos) for ids in completion_ids]
        return result

    def _generate_and_score_completions(self, inputs):
        output = super()._generate_and_score_completions(inputs)
        if self.model.training:
            if self.args.twin_baseline:
                output["advantages"] = self._twin_advantages(inputs, output["advantages"])
            self._record_round(inputs)
            if self.args.dynamic_sampling:
                output = self._refill(inputs, output)
        return output

    def _twin_advantages(self, inputs: list[dict], local: torch.Tensor) -> torch.Tensor:
        """The twin baseline (r1lite.training.twin_baseline): the round's advantages recomputed from TRL's gathered
        rewards with each completion centred on its puzzle's and its twin's groups together; TRL's logged
        advantages are replaced too, so the rollout log shows what trained."""
        n = len(inputs) * self.accelerator.num_processes
        per_func = torch.tensor(
            [list(self._logs["rewards"][name])[-n:] for name in self.reward_func_names], dtype=torch.float32
        ).T  # (B, F): NaN where a reward returned None
        puzzles = gather_object([(x.get("nums"), x.get("target")) for x in inputs])
        check_pairs([p[0] for p in puzzles], [p[1] for p in puzzles], self.num_generations)
        rewards = weighted_rewards(per_func, self.reward_weights.float().cpu())  # (B,)
        advantages = twin_advantages(rewards, self.num_generations, self.args.scale_rewards)  # (B,)
        logged = self._logs["advantages"]
        for _ in range(n):
            logged.pop()
        logged.extend(advantages.tolist())
        group_means = torch.nanmean(rewards.view(-1, 2, self.num_generations), dim=2)  # (P, 2)
        gap = (group_means[:, 0] - group_means[:, 1]).abs()  # (P,)
        self._metrics["train"]["twin_baseline/pair_gap"].append(torch.nan_to_num(gap).mean().item())
        start = self.accelerator.process_index * len(inputs)
        return advantages[start : start + len(inputs)].to(local.device, local.dtype)  # (B_local,)

    def _refill(self, inputs: list[dict], output: dict) -> dict:
        """Dynamic sampling: replace zero-advantage rows by completions of fresh prompts
        (r1lite.training.dynamic_sampling)."""
        device = self.accelerator.device
        size = len(inputs)
        outputs, keep = [output], [signal_rows(output["advantages"])]  # keep[i]: (B_i,) bool
        dropped = self.accelerator.gather((~keep[0]).float().mean().reshape(1).to(device)).mean().item()
        rounds = 0
        while rounds < self.args.dynamic_sampling_max_rounds:
            short = torch.tensor([size - sum(int(k.sum()) for k in keep)], device=device)
            short = int(self.accelerator.gather(short).max())  # every process runs the same rounds
            if short <= 0:
                break
            groups = -(-short // self.num_generations)  # whole groups: GRPO's statistics need them
            picks = [self._fresh_rng.randrange(len(self.train_dataset)) for _ in range(groups)]
            fresh = [self.train_dataset[i] for i in picks for _ in range(self.num_generations)]
            out = super()._generate_and_score_completions(fresh)
            self._record_round(fresh)
            outputs.append(out)
            keep.append(signal_rows(out["advantages"]))
            rounds += 1
        batch = merge(outputs, keep, size)
        mask = batch["completion_mask"]  # (B, C)
        batch["num_items_in_batch"] = self.accelerator.gather(mask.sum()).sum()
        with_signal = self.accelerator.gather(signal_rows(batch["advantages"]).float().mean().reshape(1)).mean().item()
        metrics = self._metrics["train"]
        metrics["dynamic_sampling/dropped_fraction"].append(dropped)  # zero-advantage rows of the first round
        metrics["dynamic_sampling/extra_rounds"].append(float(rounds))
        metrics["dynamic_sampling/signal_fraction"].append(with_signal)  # rows with signal in the trained batch
        return batch

    def _record_round(self, inputs: list[dict]) -> None:
        """Behaviour metrics of the gathered round into TRL's metric store; the rollout file on the main process."""
        # One gather (every rank takes part), in the same rank order as TRL's gathered completions.
        local = [
            (length, truncated, x.get("nums"), x.get("target"))
            for length, truncated, x in zip(self._local_lengths, self._local_truncated, inputs, strict=True)
        ]
        gathered = gather_object(local)
        if not gathered:
            return
        lengths, truncated, nums, targets = (list(column) for column in zip(*gathered, strict=True))
        n = len(lengths)
        # TRL appended this round's gathered rows last to its logging deques.
        completions = [_text(c) for c in list(self._logs["completion"])[-n:]]
        behaviour = completion_behaviour(completions, nums, targets, self.args.reflection_words)
        for name, value in summarize(behaviour, lengths, truncated).items():
            self._metrics["train"][f"behaviour/{name}"].append(value)
        if self.args.rollout_log and self.accelerator.is_main_process:
            self._write_rollouts(completions, lengths, truncated, nums, targets, behaviour)

    def _write_rollouts(self, completions, lengths, truncated, nums, targets, behaviour) -> None:
        n = len(completions)
        prompts = list(self._logs["prompt"])[-n:]
        advantages = list(self._logs["advantages"])[-n:]
        rewards = {name: list(self._logs["rewards"][name])[-n:] for name in self.reward_func_names}
        weights = self.reward_weights.tolist()
        path = os.path.join(self.args.output_dir, "rollouts", f"step-{self.state.global_step:06d}.jsonl")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if os.path.exists(path):  # steps_per_generation > 1 or a resumed run writes the same step again
            path = path.replace(".jsonl", f"-{len(os.listdir(os.path.dirname(path))):04d}.jsonl")
        with open(path, "w") as f:
            for i in range(n):
                values = {name: _clean(rewards[name][i]) for name in self.reward_func_names}
                total = sum(w * v for w, v in zip(weights, values.values(), strict=True) if v is not None)
                record = dict(
                    step=self.state.global_step,
                    index=i,
                    group=i // self.num_generations,
                    prompt=prompts[i],
                    completion=completions[i],
                    nums=nums[i],
                    target=targets[i],
                    rewards=values,
                    reward=total,
                    advantage=_clean(advantages[i]),
                    length=lengths[i],
                    truncated=bool(truncated[i]),
                    **behaviour[i],
                )
                f.write(json.dumps(record) + "\n")


def _strip_trailing(ids: list[int], pad: int) -> list[int]:
    end = len(ids)
    while end and ids[end - 1] == pad:
        end -= 1
    return ids[:end]


def _text(completion) -> str:
    """A completion's text; conversational completions keep the text of the last message."""
    if isinstance(completion, list):
        return completion[-1]["content"]
    return completion


def _clean(value):
    """NaN (an unscorable reward) becomes null in JSON."""
    if value is None:
        return None
    value = float(value.item() if isinstance(value, torch.Tensor) else value)
    return None if value != value else value
