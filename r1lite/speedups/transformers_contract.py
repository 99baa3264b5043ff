"""Every private or semi-private part of transformers that r1lite relies on, named in one place and checked
against the installed transformers.

The speed layer (``attention.py``: grouped attention; ``packed_pass.py``: packed training pass;
``decode_cache.py``: one cached prompt per group) plugs into transformers below its public API: it registers
attention functions by name, stands in for a cache layer, reads each modelling file's module-level
``eager_attention_forward``, relies on a 4D mask being passed through untouched and on extra forward keywords
reaching the attention function. Those parts move between minor releases (5.17 names the KV-cache keyword
``past_key_values``, 5.24 names it ``cache``), so ``pyproject.toml`` pins transformers to the range tested here
(:data:`TESTED_RANGE`; ``make test`` runs the speed layer's tests on both ends, ``make test-compat`` the older
one), and this module checks the contract: :func:`check_signatures` (each part is importable and takes the
parameters r1lite passes) and :func:`check_behaviour` (a forward pass of tiny random Llama and Qwen2 models, built
from a config, through a probe attention entry: lookup by name, keyword pass-through, the 4D mask,
``logits_to_keep``, the cache and its layer protocol, generation's position ids). :func:`verify` raises
:class:`TransformersContractError` naming what moved and the tested range, instead of a wrong number or an
``AttributeError`` deep inside a step. ``tests/test_transformers_contract.py`` runs both against the installed
transformers.

The parts (what r1lite uses them for):

* ``transformers.AttentionInterface.register`` and the lookup of ``config._attn_implementation`` in
  ``transformers.modeling_utils.ALL_ATTENTION_FUNCTIONS.get_interface``: the ``r1lite_grouped_*`` entries.
* ``transformers.integrations.sdpa_attention.sdpa_attention_forward``: the fallback of the sdpa entry.
* ``transformers.masking_utils.AttentionMaskInterface``, ``sdpa_mask``, ``eager_mask``: the mask builders
  registered under r1lite's names (``ALL_MASK_ATTENTION_FUNCTIONS`` looks them up by the same name).
* ``transformers.models.{llama,qwen2}.modeling_*.eager_attention_forward``: the fallback of the eager entry,
  found in the module of the attention layer's class (``attention._eager_of``).
* ``PreTrainedConfig._attn_implementation`` (``PretrainedConfig`` is its alias): settable to a registered name
  and read back as set (``use_grouped_attention``).
* ``transformers.cache_utils.Cache(layers=...)`` and ``CacheLayerMixin``: ``decode_cache.SharedPrefixCache``
  and its ``GroupPrefixLayer``, which implements or overrides :data:`LAYER_METHODS` and sets
  :data:`LAYER_ATTRIBUTES`; ``Cache`` must dispatch its methods to the layers' methods of the same name.
* ``DynamicCache.batch_select_indices`` and ``.layers[i].keys/.values``: the copied-prefill fallback and
  ``SharedPrefixCache.from_prefill``.
* The KV-cache keyword, :data:`CACHE_NAMES` (``decode_cache.cache_name``): one of them in the causal LM's
  ``forward`` and as a field of its output.
* ``GenerationMixin._prepare_position_ids_for_generation`` (where it exists): a left-padded prompt's positions
  are ``cumsum(attention_mask) - 1`` at its real tokens (the shared prefill numbers the prompt the same way).
* The ``logits_to_keep`` forward keyword; ``position_ids``; ``use_cache``; ``**kwargs`` reaching attention.
* A 4D ``attention_mask`` is handed to the attention function as given (the packed pass's placeholder).
* ``module.layer_idx`` on attention layers (``SharedPrefixCache.attend`` reads its layer's cache).
* ``transformers.StopStringCriteria(tokenizer, stop_strings)`` (``r1lite.task.evaluation.stop_criteria``).
* ``transformers.integrations.deepspeed._hf_deepspeed_config_weak_ref`` and ``unset_hf_deepspeed_config``
  (``r1lite.models.load_full_model`` switches ZeRO-3 partitioning off for a whole-model load).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import sys

import torch
import transformers
from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

TESTED_TRANSFORMERS = ("5.17.0", "5.24.0")  # the gpu extra's (vLLM 0.31 requires <5.18) and the default install's
TESTED_RANGE = ">=5.17,<5.25"  # pyproject.toml

# Names r1lite imports or reads: "module:attribute" (attribute may be dotted) -> what r1lite uses it for.
IMPORTS = {
    "transformers:AttentionInterface": "registers r1lite's grouped attention entries by name",
    "transformers.modeling_utils:ALL_ATTENTION_FUNCTIONS": "where modelling files look up config._attn_implementation",
    "transformers.integrations.sdpa_attention:sdpa_attention_forward": "the fallback of r1lite_grouped_sdpa",
    "transformers.masking_utils:AttentionMaskInterface": "registers the mask builders under r1lite's names",
    "transformers.masking_utils:ALL_MASK_ATTENTION_FUNCTIONS": (
        "where mask creation looks up config._attn_implementation"
    ),
    "transformers.masking_utils:sdpa_mask": "the mask builder of r1lite_grouped_sdpa",
    "transformers.masking_utils:eager_mask": "the mask builder of r1lite_grouped_eager",
    "transformers.models.llama.modeling_llama:eager_attention_forward": "the fallback of r1lite_grouped_eager (Llama)",
    "transformers.models.qwen2.modeling_qwen2:eager_attention_forward": "the fallback of r1lite_grouped_eager (Qwen2)",
    "transformers.configuration_utils:PreTrainedConfig._attn_implementation": (
        "switched to r1lite's entry (a property)"
    ),
    "transformers.cache_utils:Cache": "base of SharedPrefixCache",
    "transformers.cache_utils:CacheLayerMixin": "base of GroupPrefixLayer",
    "transformers.cache_utils:DynamicCache.batch_select_indices": "copies a prefill's cache to its group's rows",
    "transformers.generation:StopStringCriteria": "stop strings of HF generation",
    "transformers:StoppingCriteriaList": "stop strings of HF generation",
    "transformers.integrations.deepspeed:_hf_deepspeed_config_weak_ref": (
        "saved and restored by r1lite.models.outside_zero3_init"
    ),
    "transformers.integrations.deepspeed:unset_hf_deepspeed_config": "a whole-model load under ZeRO-3",
}

# Callables r1lite calls (or that call r1lite's stand-ins) -> (leading positional parameters, after self, in order;
# parameters it passes by keyword).
SIGNATURES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "transformers:AttentionInterface.register": (("key", "value"), ()),
    "transformers.masking_utils:AttentionMaskInterface.register": (("key", "value"), ()),
    "transformers.modeling_utils:ALL_ATTENTION_FUNCTIONS.get_interface": (("attn_implementation", "default"), ()),
    # r1lite's fallback calls fn(module, query, key, value, attention_mask, dropout=, scaling=, **kwargs)
    "transformers.integrations.sdpa_attention:sdpa_attention_forward": (
        ("module", "query", "key", "value", "attention_mask"),
        ("dropout", "scaling"),
    ),
    "transformers.models.llama.modeling_llama:eager_attention_forward": (
        ("module", "query", "key", "value", "attention_mask"),
        ("dropout", "scaling"),
    ),
    "transformers.models.qwen2.modeling_qwen2:eager_attention_forward": (
        ("module", "query", "key", "value", "attention_mask"),
        ("dropout", "scaling"),
    ),
    "transformers.cache_utils:Cache.__init__": ((), ("layers",)),
    "transformers.cache_utils:DynamicCache.batch_select_indices": (("indices",), ()),
    "transformers.generation:StopStringCriteria.__init__": (("tokenizer", "stop_strings"), ()),
}

# The causal LMs whose forward r1lite calls -> the keywords it passes (plus the cache keyword, CACHE_NAMES).
FORWARD_KEYWORDS = ("input_ids", "attention_mask", "position_ids", "use_cache", "logits_to_keep")
CAUSAL_LMS = (
    "transformers.models.llama.modeling_llama:LlamaForCausalLM",
    "transformers.models.qwen2.modeling_qwen2:Qwen2ForCausalLM",
)
# The KV cache's forward keyword and output field, newest first: transformers renamed past_key_values to cache
# during 5.x (5.17.0: past_key_values; 5.24.0: cache). decode_cache.cache_name picks whichever forward names.
CACHE_NAMES = ("cache", "past_key_values")

# The layer protocol of transformers' Cache that GroupPrefixLayer (decode_cache.py) implements or overrides ->
# its parameters after self, compared with CacheLayerMixin's (or, where the mixin leaves it to its subclasses,
# DynamicLayer's). Cache.<name> must call layers[i].<name> (all but lazy_initialization, which a layer's update
# and Cache.early_initialization call).
LAYER_METHODS: dict[str, tuple[str, ...]] = {
    "update": ("key_states", "value_states"),
    "get_seq_length": (),
    "get_mask_sizes": ("query_length",),
    "get_max_length": (),
    "lazy_initialization": ("key_states", "value_states"),
    "reset": (),
    "reorder_cache": ("beam_idx",),
    "batch_repeat_interleave": ("repeats",),
    "batch_select_indices": ("indices",),
    "crop": ("tokens_to_remove",),
}
# Attributes of a cache layer that transformers reads (Cache.is_sliding, .is_initialized, the mask's device)
# or that r1lite reads off a prefill's layers (keys, values).
LAYER_ATTRIBUTES = ("is_sliding", "is_initialized", "device", "keys", "values")

PROBE = "r1lite_contract_probe"  # the attention entry check_behaviour registers (sdpa underneath)


class TransformersContractError(RuntimeError):
    """The installed transformers moved a private part that r1lite relies on."""


def installed() -> str:
    return transformers.__version__


def _resolve(spec: str):
    """The object named "module:attr.attr" (raises ImportError or AttributeError)."""
    module, _, path = spec.partition(":")
    obj = importlib.import_module(module)
    for part in path.split("."):
        obj = inspect.getattr_static(obj, part) if isinstance(obj, type) else getattr(obj, part)
    if isinstance(obj, (classmethod, staticmethod)):
        obj = obj.__func__
    return obj


def _name(spec: str) -> str:
    module, _, path = spec.partition(":")
    return f"{module}.{path}"


def _params(fn) -> tuple[list[inspect.Parameter], bool]:
    """(named parameters without self/cls, whether it takes **kwargs)."""
    params = list(inspect.signature(fn).parameters.values())
    if params and params[0].name in ("self", "cls"):
        params = params[1:]
    named = [p for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    return named, any(p.kind is p.VAR_KEYWORD for p in params)


def _check_call(label: str, fn, positional: tuple[str, ...], keywords: tuple[str, ...]) -> list[str]:
    named, var_kw = _params(fn)
    names = [p.name for p in named]
    problems = []
    if tuple(names[: len(positional)]) != positional:
        problems.append(f"{label} takes ({', '.join(names)}); r1lite expects ({', '.join(positional)}, ...)")
    missing = [k for k in keywords if k not in names and not var_kw]
    if missing:
        problems.append(f"{label} has no keyword {', '.join(missing)} (r1lite passes it)")
    return problems


def check_signatures() -> list[str]:
    """Each named part is importable and takes the parameters r1lite passes; problems as text."""
    problems = []
    for spec, what in IMPORTS.items():
        try:
            _resolve(spec)
        except (ImportError, AttributeError) as err:
            problems.append(f"{_name(spec)} is gone ({what}; {type(err).__name__}: {err})")
    for spec, (positional, keywords) in SIGNATURES.items():
        try:
            fn = _resolve(spec)
        except (ImportError, AttributeError):
            owner = spec.rpartition(".")[0] if "." in spec.partition(":")[2] else spec
            if spec not in IMPORTS and owner not in IMPORTS:  # else said above, once
                problems.append(f"{_name(spec)} is gone")
            continue
        problems += _check_call(_name(spec), fn, positional, keywords)
    for spec in CAUSAL_LMS:
        try:
            forward = _resolve(spec).forward
        except (ImportError, AttributeError) as err:
            problems.append(f"{_name(spec)} is gone ({err})")
            continue
        named, var_kw = _params(forward)
        names = {p.name for p in named}
        missing = [k for k in FORWARD_KEYWORDS if k not in names]
        if missing:
            problems.append(f"{_name(spec)}.forward has no {', '.join(missing)} keyword (r1lite passes it)")
        if not var_kw:
            problems.append(
                f"{_name(spec)}.forward takes no **kwargs (the shared_prefix_layout keyword rides on them)"
            )
        caches = [n for n in CACHE_NAMES if n in names]
        if len(caches) != 1:
            problems.append(
                f"{_name(spec)}.forward names {caches or 'no'} KV-cache keyword; r1lite expects exactly one "
                f"of {CACHE_NAMES}"
            )
    problems += _check_layer_protocol()
    try:
        generation = importlib.import_module("transformers.generation.utils").GenerationMixin
    except (ImportError, AttributeError) as err:
        return problems + [f"transformers.generation.utils.GenerationMixin is gone ({err})"]
    prepare = getattr(generation, "_prepare_position_ids_for_generation", None)
    if prepare is not None:  # where it is gone, positions come from elsewhere (test_shared_decode compares tokens)
        problems += _check_call(
            "GenerationMixin._prepare_position_ids_for_generation", prepare, ("inputs_tensor", "model_kwargs"), ()
        )
    return problems


def _check_layer_protocol() -> list[str]:
    try:
        from transformers.cache_utils import Cache, CacheLayerMixin, DynamicLayer  # noqa: PLC0415 - private: a move is reported, not an import error
    except ImportError as err:
        return [f"transformers.cache_utils has no Cache, CacheLayerMixin or DynamicLayer ({err})"]
    problems = []
    required = set(getattr(CacheLayerMixin, "__abstractmethods__", ()))
    extra = sorted(required - set(LAYER_METHODS))
    if extra:
        problems.append(f"CacheLayerMixin now requires {', '.join(extra)}, which GroupPrefixLayer does not implement")
    for name, expected in LAYER_METHODS.items():
        owner = next((c for c in (CacheLayerMixin, DynamicLayer) if callable(getattr(c, name, None))), None)
        if owner is None:
            problems.append(f"no cache layer of transformers has {name}() any more (GroupPrefixLayer implements it)")
            continue
        problems += _check_call(f"{owner.__name__}.{name}", getattr(owner, name), expected, ())
        if name != "lazy_initialization" and not callable(getattr(Cache, name, None)):
            problems.append(f"Cache.{name} is gone (it dispatched to its layers' {name})")
    return problems


def _tiny_models():
    """Tiny random Llama and Qwen2 causal LMs (built from a config; no hub), without touching the global RNG."""
    size = dict(
        vocab_size=32,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return {
            "llama": LlamaForCausalLM(LlamaConfig(**size)).eval(),
            "qwen2": Qwen2ForCausalLM(Qwen2Config(**size)).eval(),
        }


def check_behaviour() -> list[str]:
    """The parts behave as r1lite relies on, in forward passes of tiny random models; problems as text."""
    try:
        from transformers import AttentionInterface  # noqa: PLC0415 - private: a move is reported, not an import error
        from transformers.cache_utils import Cache  # noqa: PLC0415 - private: a move is reported, not an import error
        from transformers.integrations.sdpa_attention import sdpa_attention_forward  # noqa: PLC0415 - private: a move is reported, not an import error
        from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface, sdpa_mask  # noqa: PLC0415 - private: a move is reported, not an import error
        from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS  # noqa: PLC0415 - private: a move is reported, not an import error
    except ImportError as err:
        return [f"cannot import the attention and cache parts ({err}); see check_signatures"]
    problems = []
    calls = []

    def probe(module, query, key, value, attention_mask, dropout=0.0, scaling=None, **kwargs):
        calls.append({"module": module, "mask": attention_mask, "kwargs": dict(kwargs)})
        kwargs.pop("r1lite_contract_keyword", None)
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )

    AttentionInterface.register(PROBE, probe)
    AttentionMaskInterface.register(PROBE, sdpa_mask)
    try:
        if ALL_ATTENTION_FUNCTIONS.get_interface(PROBE, None) is not probe:
            problems.append(
                "an AttentionInterface.register-ed function is not what "
                "ALL_ATTENTION_FUNCTIONS.get_interface returns for its name"
            )
    except Exception as err:  # noqa: BLE001 - any failure here is the finding
        problems.append(f"ALL_ATTENTION_FUNCTIONS.get_interface({PROBE!r}) failed ({err})")
    if PROBE not in ALL_MASK_ATTENTION_FUNCTIONS:
        problems.append("an AttentionMaskInterface.register-ed mask is not in ALL_MASK_ATTENTION_FUNCTIONS")
    try:
        from r1lite.speedups.attention import GROUPED  # noqa: PLC0415 - registers on import; a failure is a finding
    except Exception as err:  # noqa: BLE001
        problems.append(f"r1lite.speedups.attention does not import ({type(err).__name__}: {err})")
    else:
        for name in GROUPED.values():
            if name not in ALL_ATTENTION_FUNCTIONS or name not in ALL_MASK_ATTENTION_FUNCTIONS:
                problems.append(f"r1lite's entry {name!r} is not registered in both attention interfaces")

    G, L, keep = 2, 6, 3
    ids = torch.arange(G * L).reshape(G, L) % 31 + 1  # (G, L)
    positions = torch.arange(L).expand(G, L)  # (G, L)
    mask = torch.tensor([[0, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]])  # (G, L) first row left-padded
    for arch, model in _tiny_models().items():
        config = model.config
        try:
            config._attn_implementation = PROBE
        except Exception as err:  # noqa: BLE001
            problems.append(f"{arch}: config._attn_implementation cannot be set to a registered name ({err})")
            continue
        if config._attn_implementation != PROBE:
            problems.append(
                f"{arch}: config._attn_implementation reads {config._attn_implementation!r} after being "
                f"set to {PROBE!r}"
            )
            continue
        problems += _packed_forward(arch, model, calls, ids, positions, keep)
        problems += _cached_forward(arch, model, Cache, ids, mask)
        problems += _generation_positions(arch, model, ids, mask)
    problems += _cache_dispatch(Cache)
    return problems


def _packed_forward(arch, model, calls, ids, positions, keep) -> list[str]:
    """The packed pass's call: 4D placeholder mask, position ids, no cache, logits_to_keep, an extra keyword."""
    G, L = ids.shape
    placeholder = torch.ones(G, 1, 1, 1, dtype=torch.bool)  # (G, 1, 1, 1)
    token = object()
    calls.clear()
    try:
        with torch.no_grad():
            out = model(
                input_ids=ids,
                attention_mask=placeholder,
                position_ids=positions,
                use_cache=False,
                logits_to_keep=keep,
                r1lite_contract_keyword=token,
            )
    except Exception as err:  # noqa: BLE001
        return [f"{arch}: a forward through a registered attention entry failed ({type(err).__name__}: {err})"]
    problems = []
    layers = model.config.num_hidden_layers
    if len(calls) != layers:
        problems.append(
            f"{arch}: the registered attention function ran {len(calls)} times for {layers} layers "
            "(config._attn_implementation is not looked up by name)"
        )
    if calls and not all(c["kwargs"].get("r1lite_contract_keyword") is token for c in calls):
        problems.append(
            f"{arch}: an extra forward keyword does not reach the attention function (shared_prefix_layout)"
        )
    if calls and not all(c["mask"] is placeholder for c in calls):
        problems.append(f"{arch}: a 4D attention_mask is not handed to the attention function as given")
    if [getattr(c["module"], "layer_idx", None) for c in calls] != list(range(len(calls))):
        problems.append(f"{arch}: attention modules do not carry layer_idx 0..{layers - 1}")
    for c in calls[:1]:
        module = sys.modules[type(c["module"]).__module__]
        if not callable(getattr(module, "eager_attention_forward", None)):
            problems.append(f"{arch}: {module.__name__} (the attention layer's module) has no eager_attention_forward")
    if tuple(out.logits.shape[:2]) != (G, keep):
        problems.append(f"{arch}: logits_to_keep={keep} gave logits {tuple(out.logits.shape)}, not ({G}, {keep}, V)")
    return problems


def _cached_forward(arch, model, Cache, ids, mask) -> list[str]:
    """A prefill with a cache: its keyword, its layers' keys and values, the layer mask sizes, batch_select_indices."""
    names = set(inspect.signature(model.forward).parameters)
    key = next((n for n in CACHE_NAMES if n in names), None)
    if key is None:
        return [f"{arch}: forward names no KV-cache keyword of {CACHE_NAMES}"]
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, use_cache=True, logits_to_keep=1)
    cache = getattr(out, key, None)
    if not isinstance(cache, Cache):
        return [f"{arch}: the output's {key!r} is {type(cache).__name__}, not a Cache (forward takes {key!r})"]
    problems = []
    G, L = ids.shape
    config = model.config
    shape = (G, config.num_key_value_heads, L, config.hidden_size // config.num_attention_heads)
    layers = getattr(cache, "layers", None)
    if not layers or len(layers) != config.num_hidden_layers:
        return problems + [f"{arch}: the cache has no .layers, one per model layer"]
    layer = layers[0]
    missing = [a for a in LAYER_ATTRIBUTES if not hasattr(layer, a)]
    if missing:
        problems.append(f"{arch}: a cache layer has no {', '.join(missing)}")
    elif tuple(layer.keys.shape) != shape or tuple(layer.values.shape) != shape:
        problems.append(f"{arch}: cache layer keys are {tuple(layer.keys.shape)}, not (B, Hkv, L, d) = {shape}")
    try:
        if tuple(layer.get_mask_sizes(1)) != (L + 1, 0):
            problems.append(
                f"{arch}: a cache layer's get_mask_sizes(1) is {layer.get_mask_sizes(1)}, not "
                f"(cached + 1, 0) = ({L + 1}, 0) (GroupPrefixLayer answers that way)"
            )
    except Exception as err:  # noqa: BLE001
        problems.append(f"{arch}: a cache layer's get_mask_sizes(query_length) failed ({err})")
    before = layer.keys.clone()
    cache.batch_select_indices(torch.tensor([1, 1, 0]))
    after = cache.layers[0].keys
    if tuple(after.shape[:1]) != (3,) or not torch.equal(after[0], before[1]) or not torch.equal(after[2], before[0]):
        problems.append(f"{arch}: DynamicCache.batch_select_indices(indices) does not gather rows by index")
    return problems


def _generation_positions(arch, model, ids, mask) -> list[str]:
    """generate's position ids of a left-padded prompt: cumsum(attention_mask) - 1 at its real tokens."""
    prepare = getattr(type(model), "_prepare_position_ids_for_generation", None)
    if prepare is None:
        return []  # positions come from elsewhere; the shared-decode tests compare tokens with plain generate
    try:
        got = prepare(model, ids, {"attention_mask": mask})
    except Exception as err:  # noqa: BLE001
        return [
            f"{arch}: GenerationMixin._prepare_position_ids_for_generation(inputs, {{'attention_mask'}}) failed "
            f"({err})"
        ]
    expected = mask.long().cumsum(-1) - 1  # (G, L)
    real = mask.bool()
    if tuple(got.shape) != tuple(mask.shape) or not torch.equal(got[real], expected[real]):
        return [
            f"{arch}: GenerationMixin._prepare_position_ids_for_generation no longer numbers a left-padded "
            f"prompt cumsum(attention_mask) - 1 (got {got.tolist()})"
        ]
    return []


def _cache_dispatch(Cache) -> list[str]:
    """Cache's methods reach its layers' methods of the same name (as SharedPrefixCache's GroupPrefixLayer has
    them)."""
    from transformers.cache_utils import CacheLayerMixin  # noqa: PLC0415 - private: a move is reported, not an import error

    seen = []

    class Recorder(CacheLayerMixin):
        is_sliding = False

        def __init__(self):
            super().__init__()
            self.device = torch.device("cpu")
            self.is_initialized = True

        def _record(name, result=None):
            def method(self, *args, **kwargs):
                seen.append(name)
                return result(self, *args) if callable(result) else result

            return method

        update = _record("update", lambda self, k, v, *a: (k, v))
        get_seq_length = _record("get_seq_length", 5)
        get_mask_sizes = _record("get_mask_sizes", lambda self, q, *a: (5 + q, 0))
        get_max_length = _record("get_max_length", -1)
        lazy_initialization = _record("lazy_initialization")
        reset = _record("reset")
        reorder_cache = _record("reorder_cache")
        batch_repeat_interleave = _record("batch_repeat_interleave")
        batch_select_indices = _record("batch_select_indices")
        crop = _record("crop")

    try:
        cache = Cache(layers=[Recorder()])
    except Exception as err:  # noqa: BLE001
        return [f"Cache(layers=[a CacheLayerMixin]) failed ({type(err).__name__}: {err})"]
    x = torch.zeros(1, 1, 1, 1)
    calls = {
        "update": lambda: cache.update(x, x, 0),
        "get_seq_length": lambda: cache.get_seq_length(),
        "get_mask_sizes": lambda: cache.get_mask_sizes(1, 0),
        "get_max_length": lambda: cache.get_max_length(),
        "reset": lambda: cache.reset(),
        "reorder_cache": lambda: cache.reorder_cache(torch.zeros(1, dtype=torch.long)),
        "batch_repeat_interleave": lambda: cache.batch_repeat_interleave(1),
        "batch_select_indices": lambda: cache.batch_select_indices(torch.zeros(1, dtype=torch.long)),
        "crop": lambda: cache.crop(1),
    }
    problems = []
    for name, call in calls.items():
        seen.clear()
        try:
            call()
        except Exception as err:  # noqa: BLE001
            problems.append(f"Cache.{name} over a custom layer failed ({type(err).__name__}: {err})")
            continue
        if name not in seen:
            problems.append(f"Cache.{name} no longer calls its layers' {name} (GroupPrefixLayer overrides it)")
    try:
        if cache.get_seq_length() != 5 or tuple(cache.get_mask_sizes(1, 0)) != (6, 0):
            problems.append("Cache.get_seq_length / get_mask_sizes do not return the layer's answer")
        if list(cache.is_sliding) != [False]:
            problems.append("Cache.is_sliding does not read its layers' is_sliding")
    except Exception as err:  # noqa: BLE001
        problems.append(f"Cache reading a custom layer failed ({type(err).__name__}: {err})")
    return problems


@functools.cache
def _behaviour_once(version: str) -> tuple[str, ...]:
    return tuple(check_behaviour())


def check(behaviour: bool = True) -> list[str]:
    """Every problem with the installed transformers, as text (empty when the contract holds)."""
    problems = check_signatures()
    if behaviour:
        problems += check_behaviour()
    return problems


def verify() -> None:
    """Raise TransformersContractError naming every part of transformers that moved (the forward-pass checks run
    once per process)."""
    problems = check_signatures()
    if not problems:  # a part that is gone breaks the probe too; name it once
        problems = list(_behaviour_once(installed()))
    if problems:
        raise TransformersContractError(
            f"transformers {installed()} moved parts that r1lite relies on (its shared-prefix speed layer, mostly): "
            + "; ".join(problems)
            + f". r1lite is tested on transformers {' and '.join(TESTED_TRANSFORMERS)} (pyproject.toml pins "
            f"transformers{TESTED_RANGE}): pip install -e . or update r1lite/speedups/transformers_contract.py"
        )
