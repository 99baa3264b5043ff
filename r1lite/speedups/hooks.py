"""``SpeedHooks``: the speed layer's only seam into the trainer, a mixin over TRL's ``GRPOTrainer``.

``R1ZeroTrainer(SpeedHooks, GRPOTrainer)`` inherits three overrides of TRL's private methods (named in
``r1lite.training.trl_contract``); each calls TRL's own method wherever its module is switched off
or does not apply, so ``speedups: false`` (``r1lite.config.R1ZeroConfig``) runs TRL's exact path:

- ``_generate_single_turn`` (HF generation; vLLM is left alone): the weights cast to bf16 once per
  generation (``autocast.py``, ``cast_weights_once``), inverse-CDF token draws on the CPU
  (``sampling.py``, ``inverse_cdf_sampling``), and each distinct prompt prefilled once, its group
  decoded from one cached copy (``decode_cache.py``, ``shared_prefix``);
- ``_get_per_token_logps_and_entropies`` (the training pass): each prompt computed once per group
  (``packed_pass.py`` with the grouped attention of ``attention.py``, ``shared_prefix``), else the
  logits of the completion positions only on a device without TRL's Triton kernel
  (``completion_logits.py``, ``completion_only_logits``);
- ``_prepare_inputs``: whole prompt groups per micro-batch when TRL splits a generation batch
  (``group_shuffle.py``, with ``shared_prefix``).

A token's path through generation is then: TRL's ``_generate_single_turn`` -> this mixin's contexts
-> ``model.generate`` (replaced for the call by ``decode_cache.generate_with_shared_prefill``) ->
HF ``generate`` -> the model's attention, the ``r1lite_grouped_*`` entry (``attention.py``), which
reads the shared cache from ``DECODE_LAYOUT``. ``tests/test_equal_to_trl.py`` is the specification
of every module here: equal tokens, log-probs, loss and gradients to TRL's on realistic batches.
"""

from __future__ import annotations

import contextlib
import logging

from r1lite.models import replaced_generate
from r1lite.speedups import transformers_contract
from r1lite.speedups.attention import why_not
from r1lite.speedups.autocast import weights_cast_once
from r1lite.speedups.completion_logits import completion_logps, score, use_triton
from r1lite.speedups.decode_cache import generate_with_shared_prefill
from r1lite.speedups.group_shuffle import whole_groups
from r1lite.speedups.packed_pass import packed_logps, prompt_groups
from r1lite.speedups.sampling import inverse_cdf_multinomial

logger = logging.getLogger(__name__)


class SpeedHooks:
    """Mixin for a ``GRPOTrainer`` subclass whose ``args`` carry the speed switches of ``R1ZeroConfig``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._shared_prefix_said = False  # which training pass runs is logged once
        if self.args.shared_prefix:  # the transformers internals the shared-prefix paths extend are where expected
            transformers_contract.verify()

    # Generation -------------------------------------------------------------------------------------------------

    def _generate_single_turn(self, *args, **kwargs):
        """TRL's generation; on the HF path inside the speed layer's contexts (see the module docstring)."""
        if self.use_vllm:  # vLLM shares prefixes through its own prefix cache
            return super()._generate_single_turn(*args, **kwargs)
        with contextlib.ExitStack() as stack:
            if self.args.cast_weights_once:
                stack.enter_context(weights_cast_once(self.accelerator))
            stack.enter_context(inverse_cdf_multinomial(self.args.inverse_cdf_sampling))
            if self.args.shared_prefix:
                model = self.accelerator.unwrap_model(
                    self.model
                )  # the object TRL's unwrap_model_for_generation yields
                stack.enter_context(replaced_generate(model, _shared_prefill(model)))
            return super()._generate_single_turn(*args, **kwargs)

    # Training pass ----------------------------------------------------------------------------------------------

    def _get_per_token_logps_and_entropies(
        self,
        model,
        input_ids,
        attention_mask,
        logits_to_keep,
        batch_size=None,
        compute_entropy=False,
        compute_aux_loss=False,
        **multimodal,
    ):
        fused = use_triton(input_ids.device)  # TRL's fused head scores completion positions only: keep it
        plain = compute_aux_loss or any(v is not None for v in multimodal.values())
        groups = self._shared_prefix_groups(model, input_ids, attention_mask, logits_to_keep, plain)
        if groups is not None:
            logps, entropies = packed_logps(
                model,
                input_ids,
                attention_mask,
                logits_to_keep,
                groups,
                batch_size,
                self.accelerator.autocast,
                fused,
                self._score,
                compute_entropy,
            )
            return logps, entropies, None
        if not self.args.completion_only_logits or fused or plain:
            return super()._get_per_token_logps_and_entropies(
                model,
                input_ids,
                attention_mask,
                logits_to_keep,
                batch_size=batch_size,
                compute_entropy=compute_entropy,
                compute_aux_loss=compute_aux_loss,
                **multimodal,
            )
        logps, entropies = completion_logps(
            model,
            input_ids,
            attention_mask,
            logits_to_keep,
            batch_size,
            self.accelerator.autocast,
            self.temperature,
            compute_entropy,
            self._entropy_in_graph(),
        )
        return logps, entropies, None

    def _score(self, logits, targets, compute_entropy):
        """(log-probs, entropies or None), each (b, C), from completion logits (b, C, V) at TRL's temperature."""
        return score(logits, targets, self.temperature, compute_entropy, self._entropy_in_graph())

    def _entropy_in_graph(self) -> bool:
        """Whether an entropy term of TRL's loss trains on the entropies (then they keep their graph)."""
        return bool(getattr(self.args, "entropy_coef", 0.0)) or getattr(self.args, "use_adaptive_entropy", False)

    def _shared_prefix_groups(self, model, input_ids, attention_mask, logits_to_keep, plain: bool):
        """The rows of each prompt when the packed pass applies, else None (the reason logged once)."""
        if not self.args.shared_prefix:
            return None
        reason = why_not(model)
        if reason is None and plain:
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
            logger.info(
                "training pass with shared prefixes: %d rows in %d prompt groups", input_ids.size(0), len(groups)
            )
            self._shared_prefix_said = True
        return groups

    def _prepare_inputs(self, generation_batch):
        """TRL's, with each prompt's rows kept in one micro-batch when a generation batch is split
        (``steps_per_generation > 1``) and shared prefixes are on (``group_shuffle.py``)."""
        if self.args.shared_prefix and self.model.training and self.args.steps_per_generation > 1:
            with whole_groups():
                return super()._prepare_inputs(generation_batch)
        return super()._prepare_inputs(generation_batch)


def _shared_prefill(model):
    """The replacement of ``model.generate`` for one TRL generation: text-only calls go through
    ``generate_with_shared_prefill`` around the ``generate`` in place when it is made."""

    def wrap(plain):
        def generate(**inputs):
            if set(inputs) == {"input_ids", "attention_mask", "generation_config"}:  # text only, as TRL calls it
                return generate_with_shared_prefill(model, plain, **inputs)
            return plain(**inputs)

        return generate

    return wrap
