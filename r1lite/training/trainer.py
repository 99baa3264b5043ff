"""``R1ZeroTrainer``: TRL's ``GRPOTrainer`` plus a rollout log, behaviour metrics, completion-only
logits on the CPU, stop strings and dynamic sampling.

It overrides five private methods of TRL's trainer and reads some of its private state; all of
them are named, and checked when the trainer is built, in ``r1lite.training.trl_contract``; the
transformers internals of the shared-prefix paths in ``r1lite.training.transformers_contract``.
``tests/test_equal_to_trl.py`` holds every speed hook to TRL's numbers on realistic batches.

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

Completion-only logits: TRL 1.16 scores log-probabilities through a fused, chunked LM head. On
CUDA (Triton) it projects only the completion positions; elsewhere it projects EVERY position,
prompt included, through the 49,152-word vocabulary, forward and backward. With a 300-token
prompt and 96 completion tokens that is 4x the needed work and dominated the step on a CPU. When
``completion_only_logits`` is on and the device has no Triton, the model is asked for logits of the
completion positions only (``logits_to_keep``), processed ``batch_size`` rows at a time.

Weights cast once per generation: under ``bf16: true`` the HF generation path runs inside one
autocast context, so each fp32 weight is cast to bf16 once per ``generate`` call instead of once per
decoded token (``r1lite.training.cast_once``; the same tokens). On the CPU, sampled tokens are drawn
by inverse CDF, not ``torch.multinomial`` (``inverse_cdf_sampling``; ``r1lite.training.cpu_sampling``).

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
from trl.trainer.utils import entropy_from_logits, get_config_model_id, selective_log_softmax

from r1lite.inspection.behaviour import completion_behaviour, summarize
from r1lite.config import R1ZeroConfig
from r1lite.training.cast_once import weights_cast_once
from r1lite.training.cpu_sampling import inverse_cdf_multinomial
from r1lite.training.dynamic_sampling import merge, signal_rows
from r1lite.training.group_shuffle import whole_groups
from r1lite.training.reference_model import reference_in_compute_dtype
from r1lite.training.shared_decode import generate_with_shared_prefill
from r1lite.training.shared_prefix import packed_fused_logps, packed_logits, prompt_groups, why_not
from r1lite.task.evaluation import stop_criteria
from r1lite.models import free_memory
from r1lite.training import transformers_contract
from r1lite.training.trl_contract import use_triton, verify

logger = logging.getLogger(__name__)

# The sampling log-prob of a token the sampler did not draw (an EOS after a stop string): TRL maps NaN
# to "no importance-sampling correction" (named in r1lite.training.trl_contract).
UNSAMPLED_LOGPROB = float("nan")


class R1ZeroTrainer(GRPOTrainer):
    """GRPOTrainer that logs behaviour metrics every round and records each round to ``<output_dir>/rollouts/``;
    its switches (rollout log, stop strings, dynamic sampling, completion-only logits, reflection words)
    are fields of ``args``, an ``r1lite.config.R1ZeroConfig``."""

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
        self._shared_prefix_said = False  # which training pass runs is logged once
        verify(self)  # the private parts of TRL used below are where r1lite expects them (r1lite.training.trl_contract)
        if self.args.shared_prefix:  # and the transformers internals the shared-prefix paths extend
            transformers_contract.verify()

    def _generate_single_turn(self, *args, **kwargs):
        """TRL's generation (HF path) with each distinct prompt prefilled once and its group decoded from one
        cached copy (``shared_prefix``, ``r1lite.training.shared_decode``), and the stop strings as a stopping
        criterion of ``generate``; vLLM stops through its sampling parameters and shares prefixes through its
        prefix cache. An EOS goes after each row that a stop string ended.
        The HF path casts the weights to bf16 once per generation, not once per token (``r1lite.training.cast_once``)."""
        stopping = self._stopping if not self.use_vllm else None
        shared = self.args.shared_prefix and not self.use_vllm
        if self.use_vllm:
            completion_ids, logprobs = super()._generate_single_turn(*args, **kwargs)
        elif stopping is None and not shared:
            completion_ids, logprobs = self._hf_generate(*args, **kwargs)
        else:
            model = self.accelerator.unwrap_model(self.model)  # the object TRL's unwrap_model_for_generation yields
            own = model.__dict__.get("generate")
            plain = model.generate
            extra = {"stopping_criteria": stopping} if stopping is not None else {}

            def generate(**inputs):
                if shared and set(inputs) == {"input_ids", "attention_mask", "generation_config"}:  # text only
                    return generate_with_shared_prefill(model, plain, **inputs, **extra)
                return plain(**inputs, **extra)

            model.generate = generate
            try:
                completion_ids, logprobs = self._hf_generate(*args, **kwargs)
            finally:
                if own is None:
                    del model.generate
                else:
                    model.generate = own
            pad = self._tokenizer.pad_token_id
            if stopping is not None and pad is not None and pad not in self.eos_token_ids:
                # A stopped row is padded to the batch's length; TRL masks after EOS only, so drop the padding here.
                completion_ids = [_strip_trailing(ids, pad) for ids in completion_ids]
        if not self.args.stop_strings:
            return completion_ids, logprobs
        return self._end_stopped_rows(completion_ids, logprobs)

    def _hf_generate(self, *args, **kwargs):
        """TRL's HF generation with the weights cast once and, on the CPU, inverse-CDF draws (if switched on)."""
        with weights_cast_once(self.accelerator), inverse_cdf_multinomial(self.args.inverse_cdf_sampling):
            return super()._generate_single_turn(*args, **kwargs)

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

    def _get_per_token_logps_and_entropies(
        self, model, input_ids, attention_mask, logits_to_keep, batch_size=None, compute_entropy=False,
        compute_aux_loss=False, **multimodal,
    ):
        fused = use_triton(input_ids.device)  # TRL's fused head scores completion positions only: keep it
        groups = self._shared_prefix_groups(model, input_ids, attention_mask, logits_to_keep, compute_aux_loss, multimodal)
        if groups is not None:
            return self._shared_prefix_logps(model, input_ids, attention_mask, logits_to_keep, groups, batch_size,
                                             compute_entropy, fused)
        if (
            not self.args.completion_only_logits
            or fused
            or compute_aux_loss
            or any(v is not None for v in multimodal.values())
        ):
            return super()._get_per_token_logps_and_entropies(
                model, input_ids, attention_mask, logits_to_keep, batch_size=batch_size,
                compute_entropy=compute_entropy, compute_aux_loss=compute_aux_loss, **multimodal,
            )
        batch_size = batch_size or input_ids.size(0)
        all_logps, all_entropies = [], []
        for start in range(0, input_ids.size(0), batch_size):
            ids = input_ids[start : start + batch_size]  # (b, P+C)
            mask = attention_mask[start : start + batch_size]  # (b, P+C)
            with self.accelerator.autocast():
                # position t predicts token t+1, so C+1 positions cover the C completion tokens
                logits = model(input_ids=ids, attention_mask=mask, logits_to_keep=logits_to_keep + 1, use_cache=False).logits
            logps, entropy = self._scored(logits[:, :-1, :], ids[:, -logits_to_keep:], compute_entropy)  # (b, C) each
            all_logps.append(logps)
            all_entropies.append(entropy)
        logps = torch.cat(all_logps, dim=0)  # (B, C)
        entropies = torch.cat(all_entropies, dim=0) if compute_entropy else None  # (B, C)
        return logps, entropies, None

    def _scored(self, logits, targets, compute_entropy):
        """(log-probs of targets, entropies or None), each (b, C), from completion logits (b, C, V) at TRL's temperature."""
        logits = logits.float()  # (b, C, V)
        if self.temperature != 1.0:  # x / 1.0 == x: skip a pass over (b, C, V) and its backward
            logits = logits / self.temperature
        logps = selective_log_softmax(logits, targets)  # (b, C)
        if not compute_entropy:
            return logps, None
        if bool(getattr(self.args, "entropy_coef", 0.0)) or getattr(self.args, "use_adaptive_entropy", False):
            return logps, entropy_from_logits(logits)  # (b, C), in the graph: an entropy term trains on it
        with torch.no_grad():
            return logps, entropy_from_logits(logits)  # (b, C)

    def _shared_prefix_groups(self, model, input_ids, attention_mask, logits_to_keep, compute_aux_loss, multimodal):
        """The rows of each prompt when the shared-prefix pass applies, else None (the reason logged once)."""
        if not self.args.shared_prefix:
            return None
        reason = why_not(model)
        if reason is None and (compute_aux_loss or any(v is not None for v in multimodal.values())):
            reason = "multimodal inputs or an auxiliary loss"
        if reason is not None:
            if not self._shared_prefix_said:
                logger.warning("shared prefixes off, TRL's training pass runs instead: %s", reason)
                self._shared_prefix_said = True
            return None
        groups = prompt_groups(input_ids[:, :-logits_to_keep], attention_mask[:, :-logits_to_keep])
        if len(groups) == input_ids.size(0):
            return None  # no prompt appears twice in this batch: nothing to share
        if not self._shared_prefix_said:
            logger.info("training pass with shared prefixes: %d rows in %d prompt groups", input_ids.size(0), len(groups))
            self._shared_prefix_said = True
        return groups

    def _shared_prefix_logps(self, model, input_ids, attention_mask, logits_to_keep, groups, batch_size, compute_entropy,
                             fused: bool):
        """Per-token log-probs (and entropies) of the completions from packed groups (r1lite.training.shared_prefix).

        ``fused`` (a Triton device): through TRL's fused, chunked LM head, no (B, C, V) logits; else logits of
        the completion positions only, scored here."""
        batch_size = batch_size or input_ids.size(0)
        chunk: list[list[int]] = []
        chunks = []
        for rows in groups:  # whole groups, about batch_size rows at a time
            if chunk and sum(map(len, chunk)) + len(rows) > batch_size:
                chunks.append(chunk)
                chunk = []
            chunk.append(rows)
        chunks.append(chunk)
        parts, entropy_parts, order = [], [], []
        for chunk in chunks:
            rows = [r for g in chunk for r in g]
            local = {r: i for i, r in enumerate(rows)}
            ids, mask = input_ids[rows], attention_mask[rows]  # (b, P+C)
            local_groups = [[local[r] for r in g] for g in chunk]
            if fused:
                logps, entropy = packed_fused_logps(model, ids, mask, logits_to_keep, local_groups,
                                                    self.accelerator.autocast, compute_entropy)  # (b, C) each
            else:
                logits = packed_logits(model, ids, mask, logits_to_keep, local_groups,
                                       self.accelerator.autocast)  # (b, C, V)
                logps, entropy = self._scored(logits, ids[:, -logits_to_keep:], compute_entropy)  # (b, C) each
            parts.append(logps)
            entropy_parts.append(entropy)
            order += rows
        inverse = torch.empty(len(order), dtype=torch.long, device=input_ids.device)
        inverse[torch.tensor(order, device=input_ids.device)] = torch.arange(len(order), device=input_ids.device)
        logps = torch.cat(parts)[inverse]  # (B, C) back in the batch's row order
        entropies = torch.cat(entropy_parts)[inverse] if compute_entropy else None  # (B, C)
        return logps, entropies, None

    def _prepare_inputs(self, generation_batch):
        """TRL's, with each prompt's rows kept in one micro-batch when a generation batch is split
        (``steps_per_generation > 1``) and shared prefixes are on (``r1lite.training.group_shuffle``)."""
        if self.args.shared_prefix and self.model.training and self.args.steps_per_generation > 1:
            with whole_groups():
                return super()._prepare_inputs(generation_batch)
        return super()._prepare_inputs(generation_batch)

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
            self._record_round(inputs)
            if self.args.dynamic_sampling:
                output = self._refill(inputs, output)
        return output

    def _refill(self, inputs: list[dict], output: dict) -> dict:
        """Dynamic sampling: replace zero-advantage rows by completions of fresh prompts (r1lite.training.dynamic_sampling)."""
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
                total = sum(w * v for w, v in zip(weights, values.values()) if v is not None)
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
