"""Inverse-CDF sampling draws from the same distribution as torch.multinomial, and only where it should."""

import pytest
import torch

from r1lite.speedups.sampling import inverse_cdf_multinomial, inverse_cdf_sample


def test_draws_follow_the_probabilities():
    torch.manual_seed(0)
    probs = torch.tensor([[0.5, 0.0, 0.3, 0.15, 0.05], [0.0, 0.0, 0.0, 0.0, 2.0]])  # rows need not sum to 1
    n = 40_000
    draws = inverse_cdf_sample(probs.repeat(n, 1)).view(n, 2)  # (n, 2)
    first = torch.bincount(draws[:, 0], minlength=5).double() / n
    expected = probs[0].double()
    sigma = (expected * (1 - expected) / n).sqrt()
    assert ((first - expected).abs() <= 5 * sigma + 1e-12).all(), first  # within 5 standard errors per token
    assert first[1] == 0  # a token of probability 0 is never drawn
    assert (draws[:, 1] == 4).all()  # the only token with mass


@pytest.mark.parametrize(
    "probs,message",
    [
        ([[0.5, float("nan")]], "nan"),
        ([[0.5, -0.1]], "element < 0"),
        ([[0.0, 0.0]], "sum of probabilities"),
    ],
)
def test_invalid_probabilities_raise_like_torch(probs, message):
    with pytest.raises(RuntimeError, match=message):
        inverse_cdf_sample(torch.tensor(probs))


def test_only_single_cpu_draws_change_and_torch_is_restored():
    probs = torch.softmax(torch.randn(3, 50, generator=torch.Generator().manual_seed(0)), -1)
    own = torch.multinomial
    with inverse_cdf_multinomial():
        assert torch.multinomial is not own
        torch.manual_seed(1)
        single = torch.multinomial(probs, 1)
        torch.manual_seed(1)
        assert torch.equal(single, inverse_cdf_sample(probs))
        torch.manual_seed(1)
        several = torch.multinomial(probs, 4)  # not covered: torch's own
        seeded = torch.multinomial(probs, 1, generator=torch.Generator().manual_seed(3))  # not covered either
    assert torch.multinomial is own
    torch.manual_seed(1)
    assert torch.equal(several, torch.multinomial(probs, 4))
    assert torch.equal(seeded, torch.multinomial(probs, 1, generator=torch.Generator().manual_seed(3)))
    with inverse_cdf_multinomial(enabled=False):
        assert torch.multinomial is own


def test_restored_when_generation_raises():
    own = torch.multinomial
    with pytest.raises(ValueError), inverse_cdf_multinomial():
        raise ValueError("generation failed")
    assert torch.multinomial is own


def test_hf_generate_samples_through_it(tokenizer):
    """HF generate looks torch.multinomial up at each step: under the block its draws are inverse-CDF draws."""
    from r1lite.models import tiny_model

    torch.manual_seed(0)
    model = tiny_model(
        tokenizer, hidden_size=64, intermediate_size=128, num_layers=2, num_heads=4, num_kv_heads=2
    ).eval()
    batch = tokenizer(["Using the numbers [3, 7]"], return_tensors="pt")
    calls = []

    def counting(probs):
        calls.append(probs.shape)
        return inverse_cdf_sample(probs)

    import r1lite.speedups.sampling as sampling

    real = sampling.inverse_cdf_sample
    sampling.inverse_cdf_sample = counting
    try:
        with inverse_cdf_multinomial(), torch.no_grad():
            model.generate(
                **batch,
                do_sample=True,
                max_new_tokens=5,
                min_new_tokens=5,
                top_k=None,
                pad_token_id=tokenizer.pad_token_id,
            )
    finally:
        sampling.inverse_cdf_sample = real
    assert len(calls) == 5 and calls[0] == (1, model.config.vocab_size)
