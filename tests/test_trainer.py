"""R1ZeroTrainer's completion-only log-probabilities agree with TRL's own path."""

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
    args = R1ZeroConfig(output_dir=str(tmp_path), use_cpu=True, per_device_train_batch_size=4, num_generations=2,
                      temperature=temperature, report_to="none")
    data = Dataset.from_dict({"prompt": ["a b c", "d e"]})
    trainer = R1ZeroTrainer(model=model, reward_funcs=lambda prompts, completions, **kw: [0.0] * len(completions),
                            args=args, train_dataset=data, processing_class=tokenizer)
    torch.manual_seed(0)
    ids = torch.randint(0, len(tokenizer), (3, 12))  # (B, P+C)
    mask = torch.ones_like(ids)
    mask[0, :3] = 0  # left padding on one row
    ours = trainer._get_per_token_logps_and_entropies(trainer.model, ids, mask, 5, batch_size=2, compute_entropy=True)
    trainer.args.completion_only_logits = False
    theirs = trainer._get_per_token_logps_and_entropies(trainer.model, ids, mask, 5, batch_size=2, compute_entropy=True)
    assert ours[0].shape == theirs[0].shape == (3, 5)
    torch.testing.assert_close(ours[0], theirs[0], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(ours[1], theirs[1], atol=1e-4, rtol=1e-4)
