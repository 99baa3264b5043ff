"""Generation under bf16 autocast casts each weight once per ``generate`` call, with the same tokens."""

import types

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from r1lite.models import tiny_model
from r1lite.speedups.autocast import weights_cast_once


class _BF16Accelerator:
    """The two things r1lite uses of an Accelerator prepared with mixed_precision="bf16" on the CPU."""

    @staticmethod
    def autocast():
        return torch.autocast("cpu", dtype=torch.bfloat16)

    @staticmethod
    def prepare_model(model):
        """Accelerate's native AMP: ``forward`` runs inside its own autocast context, outputs back in fp32."""
        from accelerate.utils import convert_outputs_to_fp32

        forward = model.forward.__func__
        model.forward = types.MethodType(
            convert_outputs_to_fp32(torch.autocast("cpu", dtype=torch.bfloat16)(forward)), model
        )
        return model


class _WeightCasts(TorchDispatchMode):
    """Counts fp32 -> bf16 copies of parameters (autocast's weight casts)."""

    def __init__(self, params):
        super().__init__()
        self.params = {p.data_ptr() for p in params}
        self.count = 0

    def __torch_dispatch__(self, func, types_, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.ops.aten._to_copy.default and kwargs.get("dtype") == torch.bfloat16:
            self.count += args[0].data_ptr() in self.params
        return func(*args, **kwargs)


@pytest.fixture
def bf16_model(tokenizer):
    torch.manual_seed(0)
    model = tiny_model(tokenizer, hidden_size=64, intermediate_size=128, num_layers=2, num_heads=4, num_kv_heads=2)
    return _BF16Accelerator.prepare_model(model.float().eval())


def _generate(model, tokenizer, **kwargs):
    batch = tokenizer(["Using the numbers [3, 7, 25]", "make 46"], return_tensors="pt", padding=True)
    torch.manual_seed(1)
    with torch.no_grad():
        return model.generate(
            **batch, max_new_tokens=8, min_new_tokens=8, pad_token_id=tokenizer.pad_token_id, **kwargs
        )


@pytest.mark.parametrize("sampling", [dict(do_sample=False), dict(do_sample=True, temperature=1.0, top_k=None)])
def test_same_tokens_as_casting_per_forward(bf16_model, tokenizer, sampling):
    tokenizer.padding_side = "left"
    per_forward = _generate(bf16_model, tokenizer, **sampling)
    with weights_cast_once(_BF16Accelerator):
        once = _generate(bf16_model, tokenizer, **sampling)
    assert torch.equal(per_forward, once)


def test_each_weight_is_cast_once_per_generation_not_once_per_token(bf16_model, tokenizer):
    tokenizer.padding_side = "left"
    matrices = [p for p in bf16_model.parameters() if p.dim() == 2]  # what autocast casts for matmuls
    per_forward = _WeightCasts(matrices)
    with per_forward:
        _generate(bf16_model, tokenizer)
    once = _WeightCasts(matrices)
    with once, weights_cast_once(_BF16Accelerator):
        _generate(bf16_model, tokenizer)
    assert once.count == len(matrices)  # the tied embedding / LM head counts once
    assert per_forward.count == 8 * len(matrices)  # one forward per new token: the prefill and 7 decode steps


def test_without_an_accelerator_nothing_changes():
    with weights_cast_once(None):
        assert not torch.is_autocast_enabled("cpu")
