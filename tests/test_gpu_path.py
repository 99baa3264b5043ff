"""The GPU path without a GPU: every engine on CPU stand-ins, and the invariants a GPU run relies on.

The engines (DDP, FSDP2, DeepSpeed ZeRO-2 and ZeRO-3) run the real accelerate configs of
``configs/accelerate/`` on 2 CPU processes over gloo, on a random Qwen2ForCausalLM with the GPU
recipes' dtype settings (``configs/tiny/gpu-shape.yaml``); see ``tests/engines/launch_stage.py``
for the two accelerate gates lifted on a CPU-only machine.
"""

import json
import math
import os
import subprocess
import sys
import types
import weakref
from pathlib import Path

import pytest
import tomllib
import torch
import yaml

from conftest import REPO

sys.path.insert(0, str(REPO / "tests" / "engines"))
from launch_stage import MasterWeightProbe  # noqa: E402

GPU_SHAPE = REPO / "configs" / "tiny" / "gpu-shape.yaml"
LENGTH_REWARD = (
    "def length_reward(prompts, completions, **kwargs):\n    return [(len(c) % 10) / 9 for c in completions]\n"
)


@pytest.fixture
def reward_module(tmp_path, monkeypatch):
    """A reward with variance on random text (so a step has a gradient), importable in subprocesses too."""
    (tmp_path / "gpu_path_rewards.py").write_text(LENGTH_REWARD)
    monkeypatch.syspath_prepend(str(tmp_path))
    return ["--reward_funcs", "equation_reward", "gpu_path_rewards:length_reward"]


# 1. fp32 master weights ------------------------------------------------------------------------------


def test_one_process_steps_fp32_master_weights(tmp_path, reward_module, monkeypatch):
    """dtype: bfloat16 + bf16: true at lr 1e-6: the optimizer steps fp32 tensors and the step moves them.

    A policy loaded in bf16 would step bf16 weights, and a 1e-6 update moves almost none of them
    (bf16 spacing near 0.02 is 1.2e-4): changed_fraction would be a few percent."""
    from r1lite.training import zero

    monkeypatch.setenv("R1LITE_FORCE_BF16", "1")  # keep bf16 autocast on CPUs that emulate it
    probe = MasterWeightProbe()
    zero.main(
        [
            "--config",
            str(GPU_SHAPE),
            "--output_dir",
            str(tmp_path / "run"),
            "--max_steps",
            "1",
            "--eval_at_end",
            "false",
            *reward_module,
        ],
        callbacks=[probe],
    )
    assert probe.report["dtypes"] == ["torch.float32"]
    assert probe.report["changed_fraction"] > 0.9, probe.report


# The engines on CPU ------------------------------------------------------------------------------------

ENGINES = {
    # name: (accelerate config, recipe overrides, accelerate's distributed type)
    "ddp": ("ddp.yaml", ["--use_cpu", "true"], "MULTI_CPU"),
    "fsdp2": ("fsdp.yaml", ["--use_cpu", "true"], "FSDP"),
    "zero2": ("zero2.yaml", ["--use_cpu", "false"], "DEEPSPEED"),
    "zero3": ("zero3.yaml", ["--use_cpu", "false"], "DEEPSPEED"),
}


@pytest.fixture(scope="module")
def engine_runs(tmp_path_factory, tiny_model_path):
    """Each engine runs zero then sft (in one launch, as the pipeline does) on 2 processes; returns folders."""
    pytest.importorskip("deepspeed")
    from r1lite.models import TINY_QWEN2, ensure_default_model

    ensure_default_model(TINY_QWEN2)
    root = tmp_path_factory.mktemp("engines")
    (root / "gpu_path_rewards.py").write_text(LENGTH_REWARD)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(root)}
    runs = {}
    for name, (config, overrides, _) in ENGINES.items():
        out = root / name
        cmd = [
            sys.executable,
            "-m",
            "accelerate.commands.launch",
            "--config_file",
            str(REPO / "configs/accelerate" / config),
            "--num_processes",
            "2",
            str(REPO / "tests/engines/launch_stage.py"),
            "zero",
            "--config",
            str(GPU_SHAPE),
            "--output_dir",
            str(out / "zero"),
            *overrides,
            "--reward_funcs",
            "equation_reward",
            "gpu_path_rewards:length_reward",
            "--then",
            "sft",
            "--config",
            str(REPO / "configs/tiny/sft.yaml"),
            "--sample_from",
            str(out / "zero"),
            "--output_dir",
            str(out / "sft"),
            "--bf16",
            "true",
            "--learning_rate",
            "1e-6",
            *overrides,
        ]
        result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, cwd=REPO)
        (root / f"{name}.log").write_text(result.stdout + result.stderr)
        runs[name] = (out, result)
    return runs


@pytest.mark.parametrize("engine", list(ENGINES))
def test_engine_runs_zero_then_sft(engine_runs, engine, tiny_model_path):
    from transformers import AutoModelForCausalLM

    from r1lite.models import TINY_QWEN2, ensure_default_model

    out, result = engine_runs[engine]
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    start = AutoModelForCausalLM.from_pretrained(ensure_default_model(TINY_QWEN2)).state_dict()
    for stage in ("zero", "sft"):
        folder = out / stage
        for rank in (0, 1):
            probe = json.loads((folder / f"probe-rank{rank}.json").read_text())
            assert probe["distributed_type"] == ENGINES[engine][2] and probe["num_processes"] == 2, probe
            assert probe["dtypes"] == ["torch.float32"], probe  # fp32 master weights under every engine
            assert probe["changed_fraction"] > 0.9, probe  # and a step at lr 1e-6 moves them
        model = AutoModelForCausalLM.from_pretrained(folder)  # the final model loads (FSDP: gathered, not sharded)
        assert type(model).__name__ == "Qwen2ForCausalLM"
        after = model.state_dict()
        changed = [k for k in start if not torch.equal(start[k].to(after[k].dtype), after[k])]
        assert changed, f"{engine} {stage}: saved weights equal the start"
    rows = [json.loads(line) for line in (out / "zero" / "rollouts" / "step-000001.jsonl").open()]
    assert len(rows) == 16  # 8 completions from each of the 2 ranks
    final = json.loads((out / "zero" / "eval" / "final.json").read_text())
    assert final["num_prompts"] == 9  # 5 + 4 puzzles on 2 ranks: uneven shares, padded batches, no hang
    assert "one update: 4 prompts x 4 completions = 16 completions = 8 per device x 2 processes" in result.stderr


# 9. the same number of synced forwards on every rank ---------------------------------------------------


@pytest.mark.parametrize("n, world", [(129, 2), (9, 2), (8, 2), (5, 4), (1, 3)])
def test_rank_shares_are_equal_and_cover_every_row(n, world):
    from r1lite.task.evaluation import rank_share

    rows = list(range(n))
    shares = [rank_share(rows, rank, world) for rank in range(world)]
    assert len({len(share) for share, _ in shares}) == 1  # same batches on every rank
    real = sorted(x for share, count in shares for x in share[:count])
    assert real == rows  # every row once, padding dropped


# 2 and 5. a loadable final model -----------------------------------------------------------------------


def test_check_loadable_names_what_is_missing(tmp_path):
    from r1lite.training.saving import check_loadable

    with pytest.raises(RuntimeError, match="config.json, model weights"):
        check_loadable(tmp_path)


def test_lora_run_saves_a_merged_model_and_the_adapter(tmp_path, tiny_recipe, tiny_model_path, reward_module):
    pytest.importorskip("peft")
    from transformers import AutoModelForCausalLM

    from r1lite.training import zero

    zero.main(
        tiny_recipe
        + reward_module
        + [
            "--use_peft",
            "true",
            "--lora_r",
            "4",
            "--lora_alpha",
            "8",
            "--lora_target_modules",
            "q_proj",
            "v_proj",
            "--eval_at_end",
            "false",
        ]
    )
    run = tmp_path / "run"
    assert (run / "adapter" / "adapter_model.safetensors").exists() and (
        run / "adapter" / "adapter_config.json"
    ).exists()
    merged = AutoModelForCausalLM.from_pretrained(run).state_dict()  # a full model, no adapter needed
    base = AutoModelForCausalLM.from_pretrained(tiny_model_path).state_dict()
    assert set(merged) == set(base)
    assert not torch.equal(
        merged["model.layers.0.self_attn.q_proj.weight"], base["model.layers.0.self_attn.q_proj.weight"]
    )
    assert torch.equal(merged["model.layers.0.mlp.up_proj.weight"], base["model.layers.0.mlp.up_proj.weight"])


ZERO3_LORA_TIMEOUT = 600  # seconds; a hang fails instead of blocking (the run itself takes about a minute on 2 cores)


def test_lora_under_zero3_saves_a_merged_model_without_hanging(tmp_path, tiny_model_path):
    """LoRA under ZeRO-3 (``zero3_init_flag: true``): rank 0 alone reloads the base model to merge the
    adapter, and a ``from_pretrained`` under ZeRO-3 init is a collective that would wait forever for rank 1.
    The run must end (the timeout turns a hang into a failure) with the real, gathered adapter weights
    (not ZeRO-3's empty placeholders) and a merged full model that loads and differs where LoRA trained."""
    pytest.importorskip("deepspeed")
    pytest.importorskip("peft")
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    (tmp_path / "gpu_path_rewards.py").write_text(LENGTH_REWARD)
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(REPO / "configs/accelerate/zero3.yaml"),
        "--num_processes",
        "2",
        "--mixed_precision",
        "no",  # with --bf16 false: fp32 on any CPU, and DeepSpeed's config agrees with the trainer's
        str(REPO / "tests/engines/launch_stage.py"),
        "zero",
        "--config",
        str(REPO / "configs/tiny/zero.yaml"),
        "--output_dir",
        str(out),
        "--use_cpu",
        "false",
        "--bf16",
        "false",
        "--max_steps",
        "1",
        "--eval_at_end",
        "false",
        "--reward_funcs",
        "equation_reward",
        "gpu_path_rewards:length_reward",
        "--use_peft",
        "true",
        "--lora_r",
        "4",
        "--lora_alpha",
        "8",
        "--lora_target_modules",
        "q_proj",
        "v_proj",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(tmp_path)}
    log = tmp_path / "launch.log"
    with log.open("w") as sink:  # a file, not a pipe: a killed launcher's ranks cannot keep a read blocked
        launch = subprocess.Popen(cmd, env=env, stdout=sink, stderr=subprocess.STDOUT, cwd=REPO)
        try:
            returncode = launch.wait(timeout=ZERO3_LORA_TIMEOUT)
        except subprocess.TimeoutExpired:
            import psutil  # accelerate's dependency

            ranks = psutil.Process(launch.pid).children(recursive=True)  # torchrun starts them in their own sessions
            for process in [launch, *ranks]:
                process.kill()
            launch.wait()
            psutil.wait_procs(ranks, timeout=30)
            pytest.fail(
                f"LoRA under ZeRO-3 did not end within {ZERO3_LORA_TIMEOUT} s (a collective on one rank only?)\n"
                + log.read_text()[-4000:]
            )
    assert returncode == 0, log.read_text()[-4000:]
    probe = json.loads((out / "probe-rank0.json").read_text())
    assert probe["distributed_type"] == "DEEPSPEED" and probe["num_processes"] == 2, probe
    adapter = load_file(out / "adapter" / "adapter_model.safetensors")
    lora = {k: v for k, v in adapter.items() if ".lora_A" in k or ".lora_B" in k}
    assert lora and all(v.dim() == 2 and v.numel() > 0 for v in lora.values()), {k: v.shape for k, v in lora.items()}
    assert any(v.abs().sum() > 0 for k, v in lora.items() if ".lora_B" in k)  # trained, not the zero init
    merged = AutoModelForCausalLM.from_pretrained(out).state_dict()  # a full model, no adapter needed
    base = AutoModelForCausalLM.from_pretrained(tiny_model_path).state_dict()
    assert set(merged) == set(base)
    assert not torch.equal(
        merged["model.layers.0.self_attn.q_proj.weight"], base["model.layers.0.self_attn.q_proj.weight"]
    )
    assert torch.equal(merged["model.layers.0.mlp.up_proj.weight"], base["model.layers.0.mlp.up_proj.weight"])


# 3, 4, 6. what each config names is installed by an extra ----------------------------------------------

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
EXTRAS = PYPROJECT["project"]["optional-dependencies"]


def _needs(path: Path) -> set[str]:
    """The optional features a YAML in configs/ names (r1lite.requirements.EXTRAS keys)."""
    spec = yaml.safe_load(path.read_text()) or {}
    needs = set()
    if spec.get("distributed_type") == "DEEPSPEED":
        needs.add("deepspeed")
    if spec.get("use_vllm") or spec.get("sample_with_vllm"):
        needs.add("vllm")
    if spec.get("use_peft"):
        needs.add("peft")
    report_to = spec.get("report_to") or []
    needs.update([report_to] if isinstance(report_to, str) else report_to)
    return needs - {"none"}


@pytest.mark.parametrize(
    "path", sorted((REPO / "configs").glob("*/*.yaml")), ids=lambda p: f"{p.parent.name}/{p.name}"
)
def test_every_config_names_only_what_an_extra_installs(path):
    from r1lite.requirements import EXTRAS as FEATURES

    for feature in _needs(path):
        assert feature in FEATURES, f"{path} names {feature}, which no extra of r1lite installs"
        extra = FEATURES[feature][1]
        assert extra in EXTRAS, f"{path} needs the extra {extra!r}, missing from pyproject.toml"
        assert extra in EXTRAS["gpu"][0], f"the gpu extra does not include {extra!r}"


def test_extras():
    assert EXTRAS["vllm"] == ["trl[vllm]>=1.16,<1.17"]  # the vLLM versions TRL supports, not a range of our own
    assert any(d.startswith("deepspeed") for d in EXTRAS["deepspeed"])
    assert any(d.startswith("tensorboard") for d in EXTRAS["tensorboard"])
    readme = (REPO / "README.md").read_text()
    assert "pip install -e '.[gpu]'" in readme


@pytest.fixture
def no_model_load(monkeypatch):
    from r1lite.training import zero

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the missing package was reported")

    monkeypatch.setattr(zero, "load_policy", refuse)


@pytest.mark.parametrize(
    "missing, args, env, extra",
    [
        ("tensorboard", ["--report_to", "tensorboard"], {}, "r1lite[tensorboard]"),
        ("peft", ["--use_peft", "true"], {}, "r1lite[peft]"),
        ("deepspeed", [], {"ACCELERATE_USE_DEEPSPEED": "true"}, "r1lite[deepspeed]"),
        ("vllm", ["--use_vllm", "true"], {}, "r1lite[vllm]"),
    ],
)
def test_missing_package_fails_before_the_model_loads(
    tiny_recipe, no_model_load, monkeypatch, missing, args, env, extra
):
    from r1lite import requirements
    from r1lite.errors import MissingPackageError
    from r1lite.training import zero

    real = requirements.is_installed
    monkeypatch.setattr(requirements, "is_installed", lambda module: module != missing and real(module))
    monkeypatch.setattr(requirements, "has_cuda", lambda: True)  # vLLM: the GPU is there, the package is not
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(MissingPackageError, match=extra.replace("[", r"\[").replace("]", r"\]")):
        zero.main(tiny_recipe + args)


def _run_recipe(*args, env=None):
    env = {**os.environ, **(env or {})}
    env.pop("R1LITE_DEBUG", None)
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=300, cwd=REPO)


# (A GPU recipe on a machine without a GPU: one line, exit status 2: tests/test_errors.py.)


# 7. rejection sampling with vLLM on every rank, and the training engine freed -----------------------------


class _FakeLLM:
    """Stands in for vllm.LLM: records how it was built and what it was asked."""

    made: list = []

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.prompts = None
        _FakeLLM.made.append(self)

    def generate(self, prompts, params):
        self.prompts = prompts
        out = types.SimpleNamespace(text="<answer>1 + 2</answer>", token_ids=[1, 2, 3], finish_reason="stop")
        return [types.SimpleNamespace(outputs=[out] * params.n) for _ in prompts]


def test_vllm_sampling_runs_on_every_rank(monkeypatch):
    """Rank 1 of 2 samples its own half with its own engine (it used to wait for rank 0's broadcast)."""
    from r1lite.r1 import rejection
    from r1lite.r1.sft_config import CleanupConfig

    fake = types.ModuleType("vllm")
    fake.LLM = _FakeLLM
    fake.SamplingParams = lambda **kw: types.SimpleNamespace(**kw)
    monkeypatch.setitem(sys.modules, "vllm", fake)
    monkeypatch.setattr(rejection, "_gather", lambda local, world: local)  # one process plays rank 1
    _FakeLLM.made.clear()
    rows = [{"prompt": f"p{i}", "nums": [1, 2], "target": 3} for i in range(5)]
    rank1 = types.SimpleNamespace(num_processes=2, process_index=1, is_main_process=False)
    cfg = CleanupConfig(sample_from="x", samples_per_prompt=2, sample_with_vllm=True)
    samples = rejection.sample("model", None, rows, cfg, accelerator=rank1, seed=3, stop_strings=["</answer>"])
    (llm,) = _FakeLLM.made
    assert llm.prompts == ["p1", "p3"]  # the strided share of rank 1
    assert llm.kwargs["distributed_executor_backend"] == "external_launcher" and llm.kwargs["seed"] == 4
    assert [s.prompt_index for s in samples] == [1, 1, 3, 3]


def test_release_vllm_frees_the_colocated_engine():
    from r1lite.training.trainer import R1ZeroTrainer

    class Engine:
        pass

    engine = Engine()
    alive = weakref.ref(engine)
    trainer = types.SimpleNamespace(vllm_generation=types.SimpleNamespace(llm=engine))
    del engine
    R1ZeroTrainer.release_vllm(trainer)
    assert alive() is None


# 8. a row that a stop string ended is finished, not truncated --------------------------------------------


class _FakeVLLMGeneration:
    """TRL's VLLMGeneration as the trainer calls it: token ids and per-token log-probs, no EOS after a stop."""

    def __init__(self, rows, logprob=-0.5):
        self.rows = rows
        self.logprob = logprob

    def sync_weights(self):
        pass

    def generate(self, prompts, images, num_generations, profiler):
        ids = [self.rows[i % len(self.rows)] for i in range(len(prompts))]  # colocated: one row per prompt row
        return None, ids, [[[self.logprob]] * len(r) for r in ids], None


ANSWERED = "3 + 4 = 7</think> <answer>3 + 4</answer>"  # a row vLLM stopped at "</answer>" (no EOS)
CUT_OFF = "3 + 4 = 7 and then"  # a row that ran to the token cap


def _vllm_round(tmp_path, tiny_model_path, tokenizer, logprob=-0.5, **config):
    """One scored generation round of 4 rows through TRL's vLLM branch, served by ``_FakeVLLMGeneration``
    (an answered and a cut-off row, in turn, each sampled token with ``logprob``): (output, token lists)."""
    from datasets import Dataset

    from r1lite.config import R1ZeroConfig
    from r1lite.models import load_model
    from r1lite.training.trainer import R1ZeroTrainer

    rows = [tokenizer.encode(text, add_special_tokens=False) for text in (ANSWERED, CUT_OFF)]
    args = R1ZeroConfig(
        output_dir=str(tmp_path),
        use_cpu=True,
        per_device_train_batch_size=4,
        num_generations=4,
        max_completion_length=32,
        report_to="none",
        stop_strings=["</answer>"],
        **config,
    )
    data = Dataset.from_dict({"prompt": ["a b c"] * 4})
    trainer = R1ZeroTrainer(
        model=load_model(tiny_model_path),
        reward_funcs=lambda prompts, completions, **kw: [0.0] * len(completions),
        args=args,
        train_dataset=data,
        processing_class=tokenizer,
    )
    trainer.use_vllm = True  # generation goes through TRL's vLLM branch, served by the fake
    trainer.vllm_generation = _FakeVLLMGeneration(rows, logprob)
    trainer._last_loaded_step = trainer.state.global_step
    trainer.model.train()
    out = trainer._generate_and_score_completions([{"prompt": "a b c"}] * 4)
    return trainer, out, rows


@pytest.mark.parametrize("mask_truncated", [False, True])
def test_vllm_stop_string_rows_end_with_eos(tmp_path, tiny_model_path, tokenizer, mask_truncated):
    trainer, out, (answered, cut_off) = _vllm_round(
        tmp_path, tiny_model_path, tokenizer, mask_truncated_completions=mask_truncated
    )
    assert trainer._metrics["train"]["completions/clipped_ratio"][-1] == 0.5  # only the cut-off rows
    ids = out["completion_ids"]  # (4, C)
    mask = out["completion_mask"]  # (4, C)
    eos = tokenizer.eos_token_id
    assert ids[0, len(answered)].item() == eos  # an EOS after the stop string
    assert mask[0].sum().item() == len(answered) + 1  # answered rows stay in the loss, EOS included
    assert mask[1].sum().item() == (0 if mask_truncated else len(cut_off))


def test_stopped_rows_importance_ratio_is_that_of_their_sampled_tokens(tmp_path, tiny_model_path, tokenizer):
    """The EOS r1lite appends after a vLLM stop string was not sampled: TRL's importance-sampling correction must
    ignore it. The ratio of a stopped row is exp(sum over its sampled tokens of (log p_train - log p_vllm)); with a
    sampling log-prob of 0.0 for the EOS it was also multiplied by p_train(EOS | answer)."""
    uniform = -math.log(len(tokenizer))  # about what the random tiny model gives any token: ratios stay finite
    _, out, (answered, cut_off) = _vllm_round(
        tmp_path,
        tiny_model_path,
        tokenizer,
        logprob=uniform,
        vllm_importance_sampling_mode="sequence_truncate",
        vllm_importance_sampling_clip_min=0.0,
        vllm_importance_sampling_clip_max=1e30,
    )  # no clipping: the ratio itself
    old = out["old_per_token_logps"]  # (4, C) the training model's log-probs
    ratio = out["importance_sampling_ratio"]  # (4, 1) sequence level
    for row, sampled in ((0, len(answered)), (1, len(cut_off))):
        expected = torch.exp((old[row, :sampled] - uniform).sum())  # the sampled tokens only
        torch.testing.assert_close(ratio[row, 0], expected, rtol=1e-5, atol=0)
    assert out["completion_mask"][0].sum() == len(answered) + 1  # the EOS itself stays in the loss


# 10. the same update on any number of processes -----------------------------------------------------------


@pytest.mark.parametrize("world, accumulation", [(1, 64), (2, 32), (8, 8), (16, 4)])
def test_prompts_per_update_derives_accumulation(monkeypatch, world, accumulation):
    from r1lite.config import R1ZeroConfig
    from r1lite.training.zero import parse_args

    monkeypatch.setattr(R1ZeroConfig, "world_size", property(lambda self: world))
    _, training, _ = parse_args(
        ["--config", str(REPO / "configs/qwen2.5-3b/zero.yaml"), "--use_cpu", "true", "--bf16", "false"]
    )
    assert training.gradient_accumulation_steps == accumulation
    assert training.generation_batch_size == 128 * 8  # 128 prompts x 8 completions, whatever the world size
    assert f"x {world} processes x {accumulation} accumulation steps" in training.update_size()


@pytest.mark.parametrize(
    "args, match",
    [
        (["--prompts_per_update", "3"], "does not split"),  # 12 completions in steps of 8
        (["--prompts_per_update", "4", "--gradient_accumulation_steps", "2"], "keep one of them"),
        (["--prompts_per_update", "4", "--steps_per_generation", "2"], "keep one of them"),
        (["--prompts_per_update", "0"], "at least 1"),
    ],
)
def test_prompts_per_update_checks(tiny_recipe, args, match):
    from r1lite.training.zero import parse_args

    with pytest.raises(ValueError, match=match):
        parse_args(tiny_recipe + args)


@pytest.mark.parametrize("shared_prefix", ["true", "false"])
def test_micro_batches_of_part_groups_fail_before_the_model_loads(tiny_recipe, monkeypatch, shared_prefix):
    """6 rows per device in groups of 4: a rank's micro-batch would hold part of a group, ranks would run different
    numbers of packed forwards, and ZeRO-3 / FSDP would hang. One line names the fields."""
    from r1lite.config import R1ZeroConfig
    from r1lite.errors import ConfigError
    from r1lite.training.zero import parse_args

    monkeypatch.setattr(R1ZeroConfig, "world_size", property(lambda self: 2))
    args = [
        *tiny_recipe,
        "--per_device_train_batch_size",
        "6",
        "--num_generations",
        "4",
        "--shared_prefix",
        shared_prefix,
    ]
    if shared_prefix == "false":
        assert parse_args(args)[1].per_device_train_batch_size == 6  # TRL's pass: no packed forwards to line up
        return
    with pytest.raises(ConfigError, match="per_device_train_batch_size=6 is not a multiple of num_generations=4"):
        parse_args(args)


def test_reference_model_is_built_in_the_compute_dtype(tmp_path, tiny_model_path, tokenizer):
    """beta > 0 under bf16: the frozen reference model is bf16 (TRL would build it in the policy's fp32)."""
    from datasets import Dataset

    from r1lite.config import R1ZeroConfig
    from r1lite.models import load_model
    from r1lite.training.trainer import R1ZeroTrainer

    args = R1ZeroConfig(
        output_dir=str(tmp_path),
        use_cpu=True,
        bf16=True,
        beta=0.1,
        per_device_train_batch_size=4,
        num_generations=4,
        report_to="none",
    )
    trainer = R1ZeroTrainer(
        model=load_model(tiny_model_path, dtype=torch.float32),
        args=args,
        reward_funcs=lambda completions, **kw: [0.0] * len(completions),
        train_dataset=Dataset.from_dict({"prompt": ["a b c"] * 4}),
        processing_class=tokenizer,
    )
    assert next(trainer.model.parameters()).dtype == torch.float32  # the optimizer's master weights
    assert next(trainer.ref_model.parameters()).dtype == torch.bfloat16
    assert trainer.args.model_init_kwargs is None  # the user's config is left as given


def test_trainer_without_args_builds_a_default_config(tiny_model_path, tokenizer, tmp_path, monkeypatch):
    """As TRL's GRPOTrainer(model, reward_funcs, train_dataset): a default R1ZeroConfig named after the model."""
    from datasets import Dataset

    from r1lite.config import R1ZeroConfig
    from r1lite.training.trainer import R1ZeroTrainer

    monkeypatch.chdir(tmp_path)
    trainer = R1ZeroTrainer(
        tiny_model_path,
        lambda completions, **kw: [0.0] * len(completions),
        train_dataset=Dataset.from_dict({"prompt": ["a b c"] * 8}),
        processing_class=tokenizer,
    )
    assert isinstance(trainer.args, R1ZeroConfig) and trainer.args.output_dir.endswith("-R1Zero")


# 11. the GPU benchmark's bookkeeping --------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, peak",
    [
        ("NVIDIA H200", 989.0),
        ("NVIDIA H100 80GB HBM3", 989.0),
        ("NVIDIA H100 PCIe", 756.0),
        ("NVIDIA A100-SXM4-80GB", 312.0),
        ("Some Other GPU", None),
    ],
)
def test_bench_gpu_device_peaks(name, peak):
    sys.path.insert(0, str(REPO / "bench"))
    from bench_gpu import device_peak_tflops

    assert device_peak_tflops(name) == peak


def test_bench_gpu_pins_one_device(monkeypatch):
    sys.path.insert(0, str(REPO / "bench"))
    from bench_gpu import pin_one_gpu

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    pin_one_gpu()
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "3"
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    pin_one_gpu()
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "0"


# 12 and the configs no CPU can run ------------------------------------------------------------------------


def test_vllm_server_mode_config_leaves_the_server_a_gpu():
    from accelerate.commands.config.config_args import load_config_from_file

    config = load_config_from_file(str(REPO / "configs/accelerate/zero2-vllm-server.yaml"))
    assert config.num_processes == 7 and config.distributed_type == "DEEPSPEED"
    readme = (REPO / "README.md").read_text()
    assert "trl vllm-serve" in readme and "zero2-vllm-server.yaml" in readme


@pytest.mark.parametrize("path", sorted((REPO / "configs/accelerate").glob("*.yaml")), ids=lambda p: p.stem)
def test_accelerate_configs_load(path):
    """accelerate's own config class reads every launch config (the engine tests run ddp, fsdp, zero2, zero3)."""
    from accelerate.commands.config.config_args import load_config_from_file

    config = load_config_from_file(str(path))
    assert config.num_processes >= 2 and config.mixed_precision in ("bf16", "no")


def test_multinode_config_is_zero3_on_two_machines():
    """Two machines cannot be had here: accelerate's own config class reads the file, and its DeepSpeed
    settings are the single-machine ZeRO-3 ones that the engine test runs."""
    from accelerate.commands.config.config_args import load_config_from_file

    multi = load_config_from_file(str(REPO / "configs/accelerate/multinode-zero3.yaml"))
    single = load_config_from_file(str(REPO / "configs/accelerate/zero3.yaml"))
    assert multi.num_machines == 2 and multi.num_processes == 16
    keys = ("zero_stage", "zero3_init_flag", "zero3_save_16bit_model")
    assert {k: multi.deepspeed_config[k] for k in keys} == {k: single.deepspeed_config[k] for k in keys}


# The first command on a GPU box, run here on the tiny model ------------------------------------------------


def test_smoke_recipe_checks_and_reports(tmp_path, tiny_model_path):
    (tmp_path / "gpu_path_rewards.py").write_text(LENGTH_REWARD)
    result = _run_recipe(
        "recipes/smoke.py",
        "--config",
        "configs/tiny/zero.yaml",
        "--output_dir",
        str(tmp_path / "smoke"),
        "--max_steps",
        "2",
        "--reward_funcs",
        "equation_reward",
        "gpu_path_rewards:length_reward",
        env={"PYTHONPATH": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "tokens/s" in result.stdout and "peak memory" in result.stdout
    assert "[ok] weights moved" in result.stdout and "[ok] saved model reloads" in result.stdout


def test_smoke_recipe_fails_when_nothing_moves(tmp_path, tiny_model_path):
    # A random model earns no countdown reward: every advantage is 0, no gradient, no update.
    result = _run_recipe(
        "recipes/smoke.py",
        "--config",
        "configs/tiny/zero.yaml",
        "--output_dir",
        str(tmp_path / "smoke"),
        "--max_steps",
        "2",
        "--reward_funcs",
        "equation_reward",
    )
    assert result.returncode == 1
    assert "[FAILED] weights moved" in result.stdout
