"""r1lite's speed layer: the same numbers as TRL's ``GRPOTrainer``, in less time on a CPU.

Every module here is specified by ``tests/test_equal_to_trl.py``: with its switch on, TRL's trainer
and r1lite's give the same tokens (near-greedy), log-probs, loss and gradients on realistic batches
(left-padded prompts of different lengths, several rows per prompt, stop strings, accumulation).

    hooks.py               the only seam: ``SpeedHooks``, a mixin ``R1ZeroTrainer`` inherits
    attention.py           grouped prefix attention, reached through transformers' AttentionInterface
    packed_pass.py         the training pass with each prompt computed once per group  (shared_prefix)
    decode_cache.py        each prompt prefilled once, its group decoded from one copy  (shared_prefix)
    group_shuffle.py       whole prompt groups per micro-batch under accumulation       (shared_prefix)
    completion_logits.py   logits of completion positions only, without Triton         (completion_only_logits)
    autocast.py            the weights cast to bf16 once per generation                (cast_weights_once)
    sampling.py            one uniform per row instead of one exponential per word      (inverse_cdf_sampling)
    transformers_contract.py  the private transformers parts all of this relies on, checked at start

``speedups: false`` in a recipe (``r1lite.config.R1ZeroConfig``) turns every switch off: TRL's exact
path. Nothing outside this package imports it except ``r1lite.training.trainer`` (through
``hooks.SpeedHooks``), the smoke check and the benchmarks.
"""
