"""Shared fixtures. Tests never touch a model hub: HF_HUB_OFFLINE is set before anything imports transformers."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def tokenizer():
    """The default model's tokenizer (converted once into the r1lite cache)."""
    from r1lite.models import DEFAULT_MODEL, load_tokenizer

    return load_tokenizer(DEFAULT_MODEL)


@pytest.fixture(scope="session")
def tiny_model_path():
    """A cached tiny random model on the default tokenizer (built once)."""
    from r1lite.models import TINY_MODEL, ensure_default_model

    return str(ensure_default_model(TINY_MODEL))


@pytest.fixture
def tiny_recipe(tmp_path):
    """Command-line arguments that run the tiny recipe into a fresh output folder."""
    return ["--config", str(REPO / "configs" / "tiny" / "zero.yaml"), "--output_dir", str(tmp_path / "run")]


@pytest.fixture
def length_reward(tmp_path, monkeypatch):
    """A user's own reward module, plugged in by dotted path. Random tiny models never earn the countdown
    rewards, so this one (an arbitrary function of the text) gives the groups the variance GRPO needs."""
    (tmp_path / "length_rewards.py").write_text(
        "def length_reward(prompts, completions, **kwargs):\n    return [(len(c) % 10) / 9 for c in completions]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return ["--reward_funcs", "equation_reward", "length_rewards:length_reward"]
