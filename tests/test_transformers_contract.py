"""The private parts of transformers that r1lite's speed layer relies on (r1lite.speedups.transformers_contract)
hold on the installed transformers, and a moved one is reported by name. `make test-compat` runs this file under
transformers 5.17.0 as well (the gpu extra's version)."""

import ast
import importlib.metadata
import re
from pathlib import Path

import pytest
import torch
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from r1lite.speedups import transformers_contract as contract

REPO = Path(__file__).resolve().parent.parent


def test_installed_transformers_is_in_the_pinned_range():
    pinned = re.findall(r'^\s*"(transformers[^"\[]*)"', (REPO / "pyproject.toml").read_text(), re.M)
    assert pinned == [f"transformers{contract.TESTED_RANGE}"]  # the contract names what pyproject pins
    spec = SpecifierSet(contract.TESTED_RANGE)
    assert all(Version(v) in spec for v in contract.TESTED_TRANSFORMERS)  # both tested ends are installable
    assert Version(importlib.metadata.version("transformers")) in spec


def test_signatures_hold():
    assert contract.check_signatures() == []


def test_behaviour_holds():
    assert contract.check_behaviour() == []
    assert contract.check() == []


def test_verify_passes_and_leaves_the_random_stream_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    contract._behaviour_once.cache_clear()
    contract.verify()  # builds two tiny random models
    assert torch.equal(torch.rand(3), expected)


def test_every_transformers_import_of_the_speed_layer_is_in_the_contract():
    imported = set()
    for path in sorted(
        set((REPO / "r1lite" / "speedups").glob("*.py")) - {REPO / "r1lite/speedups/transformers_contract.py"}
    ):
        tree = ast.parse(path.read_text())
        imported |= {
            f"{node.module}:{alias.name}"
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("transformers")
            for alias in node.names
        }
    assert imported and imported <= set(contract.IMPORTS)


def test_every_cache_layer_override_is_in_the_contract():
    from transformers.cache_utils import CacheLayerMixin, DynamicLayer

    from r1lite.speedups.decode_cache import GroupPrefixLayer

    overridden = {
        name
        for name, value in vars(GroupPrefixLayer).items()
        if callable(value)
        and not name.startswith("__")
        and (hasattr(CacheLayerMixin, name) or hasattr(DynamicLayer, name))
    }
    assert overridden == set(contract.LAYER_METHODS)
    layer = GroupPrefixLayer(torch.zeros(1, 1, 2, 4), torch.zeros(1, 1, 2, 4), group_size=2)
    assert all(hasattr(layer, a) for a in contract.LAYER_ATTRIBUTES)


def test_the_speed_layers_cache_keyword_is_one_the_contract_names():
    from transformers import LlamaConfig, LlamaForCausalLM

    from r1lite.speedups.decode_cache import cache_name

    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=32,
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=1,
        )
    )
    # 5.17.0: past_key_values; 5.24.0: cache
    assert cache_name(model) in contract.CACHE_NAMES
    assert contract.check_signatures() == []  # exactly one of them in each causal LM's forward


def test_a_missing_name_is_named_and_refused(monkeypatch):
    import transformers.masking_utils

    monkeypatch.delattr(transformers.masking_utils, "sdpa_mask")
    problems = contract.check_signatures()
    assert any(p.startswith("transformers.masking_utils.sdpa_mask is gone") for p in problems), problems
    with pytest.raises(
        contract.TransformersContractError, match=r"sdpa_mask is gone.*5\.17\.0 and 5\.24\.0.*>=5\.17,<5\.25"
    ):
        contract.verify()


def test_moved_signatures_are_named(monkeypatch):
    import transformers.integrations.sdpa_attention
    import transformers.models.llama.modeling_llama

    def sdpa_without_scaling(module, query, key, value, attention_mask, dropout=0.0):
        pass

    def eager_reordered(module, query, key, value, scaling, attention_mask, dropout=0.0):
        pass

    monkeypatch.setattr(transformers.integrations.sdpa_attention, "sdpa_attention_forward", sdpa_without_scaling)
    monkeypatch.setattr(transformers.models.llama.modeling_llama, "eager_attention_forward", eager_reordered)
    problems = contract.check_signatures()
    assert (
        "transformers.integrations.sdpa_attention.sdpa_attention_forward has no keyword scaling (r1lite passes it)"
        in problems
    )
    assert any(
        p.startswith(
            "transformers.models.llama.modeling_llama.eager_attention_forward takes (module, query, "
            "key, value, scaling, attention_mask"
        )
        for p in problems
    ), problems


def test_a_renamed_cache_keyword_is_named(monkeypatch):
    from transformers import LlamaForCausalLM

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        position_ids=None,
        kv_cache=None,
        use_cache=None,
        logits_to_keep=0,
        **kwargs,
    ):
        pass

    monkeypatch.setattr(LlamaForCausalLM, "forward", forward)
    problems = contract.check_signatures()
    assert any("LlamaForCausalLM.forward names no KV-cache keyword" in p for p in problems), problems


def test_a_new_required_layer_method_is_named(monkeypatch):
    from transformers.cache_utils import CacheLayerMixin

    monkeypatch.setattr(
        CacheLayerMixin, "__abstractmethods__", CacheLayerMixin.__abstractmethods__ | {"offload_to_disk"}
    )
    problems = contract.check_signatures()
    assert "CacheLayerMixin now requires offload_to_disk, which GroupPrefixLayer does not implement" in problems


def test_changed_behaviour_is_named(monkeypatch):
    from transformers.cache_utils import Cache
    from transformers.generation.utils import GenerationMixin

    def arange_positions(self, inputs_tensor, model_kwargs):  # padding numbered too
        return torch.arange(inputs_tensor.shape[1]).expand_as(inputs_tensor)

    monkeypatch.setattr(GenerationMixin, "_prepare_position_ids_for_generation", arange_positions)
    monkeypatch.setattr(Cache, "batch_select_indices", lambda self, indices: None)
    problems = contract.check_behaviour()
    assert any("llama: GenerationMixin._prepare_position_ids_for_generation no longer numbers" in p for p in problems)
    assert (
        "Cache.batch_select_indices no longer calls its layers' batch_select_indices (GroupPrefixLayer overrides it)"
        in problems
    )
    assert any("DynamicCache.batch_select_indices(indices) does not gather rows" in p for p in problems)
