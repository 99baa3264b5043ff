"""The private parts of TRL that r1lite relies on (r1lite.training.trl_contract) hold on the installed TRL, and a
moved one is reported by name."""

import importlib.metadata
import warnings

import pytest
import torch

from r1lite.training import trl_contract


@pytest.fixture(scope="module")
def trainer(tmp_path_factory, tiny_model_path):
    from datasets import Dataset

    from r1lite.config import R1ZeroConfig
    from r1lite.models import load_model, load_tokenizer
    from r1lite.training.trainer import R1ZeroTrainer

    args = R1ZeroConfig(
        output_dir=str(tmp_path_factory.mktemp("contract")),
        use_cpu=True,
        per_device_train_batch_size=4,
        num_generations=2,
        report_to="none",
    )
    return R1ZeroTrainer(
        model=load_model(tiny_model_path),
        args=args,
        processing_class=load_tokenizer(tiny_model_path),
        reward_funcs=lambda prompts, completions, **kw: [0.0] * len(completions),
        train_dataset=Dataset.from_dict({"prompt": ["a b", "c d"]}),
    )


def test_installed_trl_is_the_tested_minor_version():
    assert importlib.metadata.version("trl").startswith(trl_contract.TESTED_TRL + ".")


def test_overridden_signatures_hold():
    assert trl_contract.check_signatures() == []


def test_private_state_holds(trainer):
    assert trl_contract.check_state(trainer) == []
    assert set(trainer._logs["rewards"]) <= set(trainer.reward_func_names) or not trainer._logs["rewards"]


def test_every_override_is_in_the_contract():
    from trl import GRPOTrainer

    from r1lite.speedups.hooks import SpeedHooks
    from r1lite.training.trainer import R1ZeroTrainer

    overridden = {
        name
        for cls in (R1ZeroTrainer, SpeedHooks)
        for name in vars(cls)
        if name.startswith("_") and not name.startswith("__") and hasattr(GRPOTrainer, name)
    }
    assert overridden == set(trl_contract.OVERRIDDEN)


def test_a_moved_signature_is_named():
    class Moved:
        def _generate_single_turn(self, prompt_ids, images, num_generations):  # multimodal_fields gone
            pass

        def _get_per_token_logps_and_entropies(
            self,
            model,
            input_ids,
            attention_mask,
            logits_to_keep,
            batch_size=None,
            compute_entropy=False,
            compute_aux_loss=False,
        ):
            pass

        def _generate_and_score_completions(self, inputs):
            pass

        def _prepare_inputs(self, generation_batch):
            pass

    problems = trl_contract.check_signatures(Moved)
    assert len(problems) == 2
    assert "GRPOTrainer._generate_single_turn takes (prompt_ids, images, num_generations)" in problems[0]
    assert "GRPOTrainer._generate is gone" in problems[1]


def test_moved_state_is_named_and_refused(trainer, monkeypatch):
    monkeypatch.delattr(trainer, "eos_token_ids")
    monkeypatch.setitem(trainer._logs, "advantages", [])
    problems = trl_contract.check_state(trainer)
    assert any("'eos_token_ids'" in p for p in problems) and any("_logs['advantages']" in p for p in problems)
    with pytest.raises(trl_contract.TRLContractError, match="eos_token_ids"):
        trl_contract.verify(trainer)


def test_a_missing_private_import_warns_once(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "trl.kernels.chunked_logprob", None)  # import fails
    from r1lite.speedups import completion_logits

    completion_logits._triton_choice.cache_clear()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert completion_logits.use_triton(torch.device("cpu")) is True  # TRL's own path, said out loud
            assert completion_logits.use_triton(torch.device("cpu")) is True
        assert len([w for w in caught if "_use_triton" in str(w.message)]) == 1
    finally:
        completion_logits._triton_choice.cache_clear()


def test_swapped_names_are_what_trls_prepare_inputs_calls():
    import inspect

    from trl import GRPOTrainer

    source = inspect.getsource(GRPOTrainer._prepare_inputs)
    for module, name in trl_contract.SWAPPED.items():
        assert GRPOTrainer.__module__ == module and f"{name}(" in source  # looked up in that module when it runs
