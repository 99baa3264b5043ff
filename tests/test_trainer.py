"""R1ZeroTrainer's log-probabilities (completion-only logits, shared prefixes) agree with TRL's own path."""

import pytest
import torch


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_completion_only_logps_match_trl(tmp_path, tiny_model_path, temperature):
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from r1lite.config import R1ZeroConfig
    from r1lite.training.trainer import R1ZeroTrainer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_path)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_path)
    args = R1ZeroConfig(
        output_dir=str(tmp_path),
        use_cpu=True,
        per_device_train_batch_size=4,
        num_generations=2,
        temperature=temperature,
        report_to="none",
        shared_prefix=False,
    )
    data = Dataset.from_dict({"prompt": ["a b c", "d e"]})
    trainer = R1ZeroTrainer(
        model=model,
        reward_funcs=lambda prompts, completions, **kw: [0.0] * len(completions),
        args=args,
        train_dataset=data,
        processing_class=tokenizer,
    )
    torch.manual_seed(0)
    ids = torch.randint(0, len(tokenizer), (3, 12))  # (B, P+C)
    mask = torch.ones_like(ids)
    mask[0, :3] = 0  # left padding on one row
    ours = trainer._get_per_token_logps_and_entropies(trainer.model, ids, mask, 5, batch_size=2, compute_entropy=True)
    trainer.args.completion_only_logits = False
    theirs = trainer._get_per_token_logps_and_entropies(
        trainer.model, ids, mask, 5, batch_size=2, compute_entropy=True
    )
    assert ours[0].shape == theirs[0].shape == (3, 5)
    torch.testing.assert_close(ours[0], theirs[0], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(ours[1], theirs[1], atol=1e-4, rtol=1e-4)


def _trainer(tmp_path, tiny_model_path, **config):
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from r1lite.config import R1ZeroConfig
    from r1lite.training.trainer import R1ZeroTrainer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_path)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_path)
    args = R1ZeroConfig(
        output_dir=str(tmp_path),
        use_cpu=True,
        per_device_train_batch_size=4,
        num_generations=2,
        report_to="none",
        bf16=False,
        **config,
    )  # fp32: equality, not bf16 rounding, is under test
    return R1ZeroTrainer(
        model=model,
        reward_funcs=lambda prompts, completions, **kw: [0.0] * len(completions),
        args=args,
        train_dataset=Dataset.from_dict({"prompt": ["a b c", "d e"]}),
        processing_class=tokenizer,
    )


def test_shared_prefix_logps_entropies_and_gradients_match_trl(tmp_path, tiny_model_path):
    from trl import GRPOTrainer

    trainer = _trainer(tmp_path, tiny_model_path, temperature=0.7)
    torch.manual_seed(0)
    prompts = torch.randint(5, 400, (3, 7))  # (3 prompts, P)
    ids = torch.cat([prompts.repeat_interleave(2, 0), torch.randint(5, 400, (6, 5))], dim=1)  # (B=6, P+C)
    ids = ids[torch.tensor([3, 0, 5, 1, 4, 2])]  # groups shuffled, as TRL does
    mask = torch.ones_like(ids)
    mask[ids[:, 0] == ids[0, 0], :2] = 0  # one prompt left-padded
    mask[1, -2:] = 0  # a completion that ended early
    completion_mask = mask[:, -5:].float()

    def run(method):
        trainer.model.zero_grad()
        logps, entropies, _ = method(trainer.model, ids, mask, 5, batch_size=3, compute_entropy=True)  # (B, C) each
        (logps * completion_mask).sum().backward()
        return logps.detach(), entropies, {n: p.grad.clone() for n, p in trainer.model.named_parameters()}

    ours = run(trainer._get_per_token_logps_and_entropies)  # shared prefixes, groups in chunks of <= 3 rows
    trainer.args.shared_prefix = False
    unshared = run(trainer._get_per_token_logps_and_entropies)  # every row on its own, completion logits only
    theirs = run(lambda *a, **k: GRPOTrainer._get_per_token_logps_and_entropies(trainer, *a, **k))  # TRL's own
    # against the same computation unshared: the bar, 1e-5 on log-probs
    assert (ours[0] - unshared[0]).mul(completion_mask).abs().max() < 1e-5
    # against TRL's chunked LM head (its own rounding, ~1e-4 on log-probs near ln(1/V) = -10.8)
    for mine, reference in ((ours, unshared), (ours, theirs)):
        torch.testing.assert_close(mine[0] * completion_mask, reference[0] * completion_mask, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(mine[1] * completion_mask, reference[1] * completion_mask, atol=1e-4, rtol=1e-4)
        for name in mine[2]:
            torch.testing.assert_close(mine[2][name], reference[2][name], atol=1e-6, rtol=1e-4, msg=name)


def test_shared_prefix_falls_back_for_attention_it_cannot_extend(tmp_path, tiny_model_path, caplog):
    import logging

    trainer = _trainer(tmp_path, tiny_model_path)
    trainer.model.config._attn_implementation = "flash_attention_2"
    ids = torch.randint(5, 400, (2, 9))
    ids[1, :4] = ids[0, :4]  # one prompt, two completions
    with caplog.at_level(logging.WARNING):
        groups = trainer._shared_prefix_groups(trainer.model, ids, torch.ones_like(ids), 5, False)
        trainer._shared_prefix_groups(trainer.model, ids, torch.ones_like(ids), 5, False)
    assert groups is None and caplog.text.count("shared prefixes off") == 1  # told once


@pytest.mark.parametrize(
    "argv",
    [["--speedups", "false"], ["--speedups", "false", "--shared_prefix", "true", "--inverse_cdf_sampling", "true"]],
)
def test_speedups_false_turns_every_module_off(tiny_recipe, argv):
    """One recipe switch restores TRL's path: every module's own switch is off, whatever it says
    (tests/test_equal_to_trl.py's "speedups-false" setting shows TRL's numbers)."""
    from r1lite.config import SPEED_SWITCHES
    from r1lite.training.zero import parse_args

    _, training, _ = parse_args([*tiny_recipe, *argv])
    assert training.speedups is False
    assert {name: getattr(training, name) for name in SPEED_SWITCHES} == dict.fromkeys(SPEED_SWITCHES, False)
    _, default, _ = parse_args(tiny_recipe)
    assert all(getattr(default, name) for name in SPEED_SWITCHES)  # on by default
