"""``R1ZeroTrainer``: TRL's ``GRPOTrainer`` plus a rollout log and completion-only logits on the CPU.

Completion-only logits: TRL 1.16 scores log-probabilities through a fused, chunked LM head. On
CUDA (Triton) it projects only the completion positions; elsewhere it projects EVERY position,
prompt included, through the 49,152-word vocabulary, forward and backward. With a 300-token
prompt and 96 completion tokens that is 4x the needed work and dominated the step on a CPU. When
``completion_only_logits`` is on and the device has no Triton, the model is asked for logits of the
completion positions only (``logits_to_keep``), processed ``batch_size`` rows at a time.

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
"""

from __future__ import annotations

import json
import os

import torch
from accelerate.utils import gather_object
from trl import GRPOTrainer
from trl.trainer.utils import entropy_from_logits, selective_log_softmax

try:  # where TRL decides between its Triton path (completion positions only) and the all-positions fallback
    from trl.kernels.chunked_logprob import _use_triton
except ImportError:  # another TRL layout: assume its kernel is fine and keep TRL's path

    def _use_triton(device: torch.device) -> bool:
        return True


class R1ZeroTrainer(GRPOTrainer):
    """GRPOTrainer that records each generation round to ``<output_dir>/rollouts/`` when ``rollout_log`` is on."""

    def __init__(self, *args, rollout_log: bool = True, completion_only_logits: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.rollout_log = rollout_log
        self.completion_only_logits = completion_only_logits
        self._local_lengths: list[int] = []
        self._local_truncated: list[bool] = []

    def _get_per_token_logps_and_entropies(
        self, model, input_ids, attention_mask, logits_to_keep, batch_size=None, compute_entropy=False,
        compute_aux_loss=False, **multimodal,
    ):
        if (
            not self.completion_only_logits
            or _use_triton(input_ids.device)
            or compute_aux_loss
            or any(v is not None for v in multimodal.values())
        ):
            return super()._get_per_token_logps_and_entropies(
                model, input_ids, attention_mask, logits_to_keep, batch_size=batch_size,
                compute_entropy=compute_entropy, compute_aux_loss=compute_aux_loss, **multimodal,
            )
        entropy_grad = bool(getattr(self.args, "entropy_coef", 0.0)) or getattr(self.args, "use_adaptive_entropy", False)
        batch_size = batch_size or input_ids.size(0)
        all_logps, all_entropies = [], []
        for start in range(0, input_ids.size(0), batch_size):
            ids = input_ids[start : start + batch_size]  # (b, P+C)
            mask = attention_mask[start : start + batch_size]  # (b, P+C)
            with self.accelerator.autocast():
                # position t predicts token t+1, so C+1 positions cover the C completion tokens
                logits = model(input_ids=ids, attention_mask=mask, logits_to_keep=logits_to_keep + 1, use_cache=False).logits
            logits = logits[:, :-1, :].float() / self.temperature  # (b, C, V)
            targets = ids[:, -logits_to_keep:]  # (b, C)
            all_logps.append(selective_log_softmax(logits, targets))  # (b, C)
            if compute_entropy:
                if entropy_grad:
                    all_entropies.append(entropy_from_logits(logits))  # (b, C)
                else:
                    with torch.no_grad():
                        all_entropies.append(entropy_from_logits(logits))  # (b, C)
        logps = torch.cat(all_logps, dim=0)  # (B, C)
        entropies = torch.cat(all_entropies, dim=0) if compute_entropy else None  # (B, C)
        return logps, entropies, None

    def _generate(self, prompts: list):
        result = super()._generate(prompts)
        if self.rollout_log and self.model.training:
            completion_ids = result[1]
            eos = {*self.eos_token_ids, self._tokenizer.pad_token_id}
            max_len = self.max_completion_length
            self._local_lengths = [len(ids) for ids in completion_ids]
            self._local_truncated = [len(ids) >= max_len and (not ids or ids[-1] not in eos) for ids in completion_ids]
        return result

    def _generate_and_score_completions(self, inputs):
        output = super()._generate_and_score_completions(inputs)
        if self.rollout_log and self.model.training:
            self._write_rollouts(inputs)
        return output

    def _write_rollouts(self, inputs: list[dict]) -> None:
        lengths = gather_object(self._local_lengths)
        truncated = gather_object(self._local_truncated)
        puzzles = gather_object([{"nums": x.get("nums"), "target": x.get("target")} for x in inputs])
        if not self.accelerator.is_main_process:
            return
        n = len(lengths)
        # TRL appended this round's gathered rows last to its logging deques.
        prompts = list(self._logs["prompt"])[-n:]
        completions = list(self._logs["completion"])[-n:]
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
                completion = completions[i]
                if isinstance(completion, list):  # conversational: keep the text of the last message
                    completion = completion[-1]["content"]
                record = dict(
                    step=self.state.global_step,
                    index=i,
                    group=i // self.num_generations,
                    prompt=prompts[i],
                    completion=completion,
                    **puzzles[i],
                    rewards=values,
                    reward=total,
                    advantage=_clean(advantages[i]),
                    length=lengths[i],
                    truncated=bool(truncated[i]),
                )
                f.write(json.dumps(record) + "\n")


def _clean(value):
    """NaN (an unscorable reward) becomes null in JSON."""
    if value is None:
        return None
    value = float(value.item() if isinstance(value, torch.Tensor) else value)
    return None if value != value else value
