"""Reward lookup: built-ins, dotted paths, entry-point plugins, and the errors."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import rewards
from rewards import registry

BUILTINS = sorted(
    [
        "equation_reward",
        "format_reward",
        "shaped_format_reward",
        "tinyzero_reward",
        "answer_expression_reward",
        "numbers_used_reward",
        "exact_numbers_reward",
        "closeness_reward",
        "reasoning_truth_reward",
        "faithful_reward",
        "honest_check_reward",
        "checked_answer_reward",
        "stated_operation_reward",
        "true_comparison_reward",
        "target_decision_reward",
        "acted_decision_reward",
        "named_numbers_reward",
    ]
)

USER_MODULE = """
def my_reward(prompts, completions, **kwargs):
    return [float(len(c)) for c in completions]

NOT_CALLABLE = 3

class Scorer:
    @staticmethod
    def score(prompts, completions, **kwargs):
        return [1.0] * len(completions)
"""


@pytest.fixture
def user_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """tmp_path on sys.path; modules imported from it and the entry-point cache are forgotten after."""
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.clear_entry_point_cache()
    yield tmp_path
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(str(tmp_path)):
            del sys.modules[name]
    registry.clear_entry_point_cache()


def write_plugin(root: Path, entry_points: str, module: str = "myplugin", source: str = USER_MODULE) -> None:
    """A fake installed distribution: a dist-info folder and the module it points at."""
    dist_info = root / f"fake{module}-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: fake{module}\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    (root / f"{module}.py").write_text(source)


@pytest.mark.parametrize("name", BUILTINS)
def test_builtins_resolve(name: str) -> None:
    assert registry.get_reward_func(name) is getattr(rewards, name)


def test_get_reward_funcs_keeps_order_and_passes_callables_through() -> None:
    def custom(prompts, completions, **kwargs):
        return [0.0] * len(completions)

    assert rewards.get_reward_funcs(["format_reward", custom, "equation_reward"]) == [
        rewards.format_reward,
        custom,
        rewards.equation_reward,
    ]


def test_available_rewards_lists_builtins() -> None:
    assert rewards.available_rewards()[: len(BUILTINS)] == BUILTINS


def test_unknown_name_lists_known_names_and_the_dotted_form() -> None:
    with pytest.raises(ValueError) as excinfo:
        rewards.get_reward_func("equation_rewrad")
    message = str(excinfo.value)
    assert "'equation_rewrad'" in message
    assert all(name in message for name in BUILTINS)
    assert "package.module:function" in message
    assert "r1lite.rewards" in message


def test_a_single_string_is_not_a_list_of_names() -> None:
    with pytest.raises(TypeError, match="get_reward_func"):
        rewards.get_reward_funcs("equation_reward")


def test_dotted_path_plugs_in_a_user_function(user_path: Path) -> None:
    (user_path / "my_rewards.py").write_text(USER_MODULE)
    reward = rewards.get_reward_func("my_rewards:my_reward")
    # TRL's call: prompts, completions and the data set columns as keyword arguments.
    scores = reward(prompts=["p", "p"], completions=["ab", "abcd"], completion_ids=[[1], [2]], nums=[[1], [2]])
    assert scores == [2.0, 4.0]
    assert rewards.get_reward_func("my_rewards:Scorer.score")(["p"], ["x"]) == [1.0]


@pytest.mark.parametrize(
    "name, message",
    [
        ("no_such_module_r1lite:f", "no module named 'no_such_module_r1lite'"),  # missing module
        ("no_such_pkg_r1lite.sub:f", "no module named 'no_such_pkg_r1lite'"),  # missing parent package
        ("my_rewards:missing", "has no attribute 'missing'"),  # missing attribute
        ("my_rewards:NOT_CALLABLE", "is not callable: got an object of type 'int'"),  # not callable
        ("my_rewards:", "must look like 'package.module:function'"),  # no attribute given
        (":my_reward", "must look like 'package.module:function'"),  # no module given
    ],
)
def test_dotted_path_errors(user_path: Path, name: str, message: str) -> None:
    (user_path / "my_rewards.py").write_text(USER_MODULE)
    with pytest.raises(ValueError) as excinfo:
        rewards.get_reward_func(name)
    assert message in str(excinfo.value)


def test_dotted_path_module_with_a_broken_import_is_not_reported_as_missing(user_path: Path) -> None:
    (user_path / "broken_rewards.py").write_text("import no_such_dependency_r1lite\n")
    with pytest.raises(ModuleNotFoundError, match="no_such_dependency_r1lite"):
        rewards.get_reward_func("broken_rewards:f")


def test_entry_point_plugin(user_path: Path) -> None:
    write_plugin(user_path, "[r1lite.rewards]\nmy_reward = myplugin:my_reward\n")
    registry.clear_entry_point_cache()
    reward = rewards.get_reward_func("my_reward")
    assert reward(prompts=["p"], completions=["abc"], trainer_state=None) == [3.0]
    assert "my_reward" in rewards.available_rewards()
    with pytest.raises(ValueError, match="my_reward"):  # listed among the known names
        rewards.get_reward_func("not_a_reward")


def test_entry_points_are_scanned_once(user_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real_entry_points = registry.importlib.metadata.entry_points

    def counting_entry_points(**kwargs):
        calls.append(kwargs)
        return real_entry_points(**kwargs)

    monkeypatch.setattr(registry.importlib.metadata, "entry_points", counting_entry_points)
    for _ in range(3):
        with pytest.raises(ValueError):
            rewards.get_reward_func("not_a_reward")
    assert calls == [{"group": "r1lite.rewards"}]
    rewards.get_reward_func("equation_reward")  # built-ins never scan
    assert len(calls) == 1


def test_entry_point_to_a_non_callable(user_path: Path) -> None:
    write_plugin(user_path, "[r1lite.rewards]\nbad_reward = myplugin:NOT_CALLABLE\n")
    with pytest.raises(ValueError, match="is not callable"):
        rewards.get_reward_func("bad_reward")


def test_conflicting_entry_points(user_path: Path) -> None:
    write_plugin(user_path, "[r1lite.rewards]\nmy_reward = myplugin:my_reward\n")
    write_plugin(user_path, "[r1lite.rewards]\nmy_reward = otherplugin:my_reward\n", module="otherplugin")
    with pytest.raises(ValueError, match="disagree"):
        rewards.get_reward_func("my_reward")


def test_builtins_win_over_plugins(user_path: Path) -> None:
    write_plugin(user_path, "[r1lite.rewards]\nequation_reward = myplugin:my_reward\n")
    assert rewards.get_reward_func("equation_reward") is rewards.equation_reward
    assert rewards.available_rewards().count("equation_reward") == 1
