"""A run's rollout log as a pandas DataFrame, and the questions people ask of it.

``load_rollouts(run_dir)`` reads ``<run_dir>/rollouts/step-*.jsonl`` (schema in ``r1lite.training.trainer``) into
one row per completion. Columns: the record's fields (step, index, group, prompt, completion, nums,
target, reward, advantage, length, truncated), one ``rewards/<name>`` column per reward function,
the behaviour fields of ``r1lite.inspection.behaviour`` (formatted, correct, reflections, candidates,
answer_position; recomputed from the text for logs written before they existed, or when
``reflection_words`` is given), and ``answered``, ``answer`` (the last answer block's text) and
``file`` (the rollout file, so a step logged twice by a resumed run can be told apart).

Bad input: a missing run folder, a folder without ``rollouts/`` or a log with no readable record
raises ``RunLogError`` with a message that says what to do. Lines that are not complete JSON
records (a run killed while writing its last line) are skipped with a ``RolloutLogWarning`` that
counts them.

``step_metrics(df)`` aggregates per step with the same definitions the trainer logs
(``r1lite.inspection.behaviour.summarize``); the other functions pick samples: best and worst of a step,
the first reflection, a prompt seen early and late.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from r1lite.errors import DataError
from r1lite.inspection.behaviour import (
    BEHAVIOUR_FIELDS,
    DEFAULT_REFLECTION_WORDS,
    completion_behaviour,
    reflection_matches,
    summarize,
)
from rewards.countdown import extract_answer

ROLLOUT_FILE = re.compile(r"step-(\d+)(?:-(\d+))?\.jsonl")


class RunLogError(DataError):
    """A run folder that cannot be inspected; the message says why and what to do."""


class RolloutLogWarning(UserWarning):
    """Some lines of a rollout log were skipped."""


def rollouts_dir(run_dir: str | Path) -> Path:
    """``<run_dir>/rollouts`` (``run_dir`` may also be the rollouts folder itself)."""
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise RunLogError(
            f"{run_dir} does not exist. Pass the output_dir of a training run, e.g. runs/smollm2-135m-zero "
            "(train one with `make zero` or `accelerate launch recipes/zero.py`)."
        )
    if run_dir.name == "rollouts" and any(run_dir.glob("step-*.jsonl")):
        return run_dir
    folder = run_dir / "rollouts"
    if not folder.is_dir():
        raise RunLogError(
            f"{run_dir} has no rollouts/ folder, so there is nothing to inspect. Is it the output_dir of a training "
            "run? r1lite writes rollouts/step-NNNNNN.jsonl every step unless the recipe sets rollout_log: false."
        )
    return folder


def rollout_files(run_dir: str | Path) -> list[Path]:
    """The rollout files in the order they were written (a ``step-N-XXXX`` rewrite after ``step-N``)."""
    folder = rollouts_dir(run_dir)
    found = []
    for path in folder.iterdir():
        match = ROLLOUT_FILE.fullmatch(path.name)
        if match:
            found.append(((int(match.group(1)), int(match.group(2) or -1)), path))
    if not found:
        raise RunLogError(
            f"{folder} holds no step-NNNNNN.jsonl files: the run stopped before its first step finished, "
            "or this is not an r1lite rollout folder."
        )
    return [path for _, path in sorted(found)]


def _is_record(record: object) -> bool:
    """At least an integer step and a completion string: what every view of the log needs."""
    return isinstance(record, dict) and type(record.get("step")) is int and isinstance(record.get("completion"), str)


def _read_records(files: list[Path]) -> list[dict]:
    """Every complete record; unreadable lines are counted and reported, never silently dropped."""
    records = []
    for number, path in enumerate(files):
        bad = []
        with path.open(encoding="utf-8", errors="replace") as f:
            lines = f.readlines()
        for line_no, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                bad.append(line_no)
                continue
            if not _is_record(record):
                bad.append(line_no)
                continue
            record["file"] = path.name
            records.append(record)
        if bad:
            tail = number == len(files) - 1 and bad == list(range(bad[0], len(lines) + 1))
            why = "the run was probably stopped while writing it" if tail else "the file is damaged"
            shown = ", ".join(map(str, bad[:5])) + (" ..." if len(bad) > 5 else "")
            warnings.warn(
                f"{path}: skipped {len(bad)} of {len(lines)} lines that are not complete rollout records "
                f"(line {shown}); {why}.",
                RolloutLogWarning,
                stacklevel=3,
            )
    return records


def read_rollouts(run_dir: str | Path) -> list[dict]:
    """Every complete rollout record as logged (plus ``file``), in the order written: for scripts that count over
    the raw records. Bad input as for ``load_rollouts``."""
    files = rollout_files(run_dir)
    records = _read_records(files)
    if not records:
        raise RunLogError(f"{files[0].parent} has {len(files)} rollout files but no readable record in them.")
    return records


def load_rollouts(run_dir: str | Path, *, reflection_words: Iterable[str] | None = None) -> pd.DataFrame:
    """One row per logged completion (columns in the module docstring), in the order they were written.

    ``reflection_words``: recount reflections with these phrases instead of those the run logged.
    """
    df = pd.DataFrame.from_records(read_rollouts(run_dir))
    optional = {
        "index": None,
        "group": None,
        "prompt": None,
        "nums": None,
        "target": None,
        "length": None,
        "truncated": None,
        "reward": float("nan"),
        "advantage": float("nan"),
    }
    for column, value in optional.items():
        if column not in df:
            df[column] = value
    if "rewards" in df:
        rewards = pd.DataFrame([r if isinstance(r, dict) else {} for r in df.pop("rewards")], index=df.index)
        for name in rewards.columns:
            df[f"rewards/{name}"] = rewards[name].astype(float)
    # Logs from before the behaviour fields, or another reflection list: compute the fields from the text.
    if reflection_words is not None or any(column not in df for column in BEHAVIOUR_FIELDS):
        stale = df.index
    else:
        stale = df.index[df[["formatted", "reflections", "candidates"]].isna().any(axis=1)]
    if len(stale):
        sub = df.loc[stale]
        behaviour = completion_behaviour(
            list(sub["completion"]), list(sub["nums"]), list(sub["target"]), reflection_words
        )
        fresh = pd.DataFrame(behaviour, index=stale, columns=list(BEHAVIOUR_FIELDS))
        for column in BEHAVIOUR_FIELDS:
            values = df[column].astype(object) if column in df else pd.Series(None, index=df.index, dtype=object)
            values.loc[stale] = fresh[column].astype(object)
            df[column] = values
    df["reflections"] = df["reflections"].astype(int)
    df["candidates"] = df["candidates"].astype(int)
    df["formatted"] = df["formatted"].astype(bool)
    df["correct"] = df["correct"].astype("boolean")  # <NA> where the record has no valid puzzle
    df["answer_position"] = df["answer_position"].astype(float)
    df["answered"] = df["answer_position"].notna()
    df["answer"] = df["completion"].map(extract_answer)
    df["step"] = df["step"].astype(int)
    return df.reset_index(drop=True)


def step_metrics(df: pd.DataFrame) -> pd.DataFrame:
    """One row per step: completions, mean reward (and per reward function), then ``behaviour.summarize``'s metrics."""
    reward_columns = [c for c in df.columns if c.startswith("rewards/")]
    rows = []
    for step, group in df.groupby("step", sort=True):
        behaviour = group[[f for f in BEHAVIOUR_FIELDS if f in group]].to_dict("records")  # older logs: no shape
        for b in behaviour:  # pandas gives NaN for a missing position or puzzle; summarize expects None
            b["answer_position"] = None if pd.isna(b["answer_position"]) else b["answer_position"]
            b["correct"] = None if pd.isna(b["correct"]) else bool(b["correct"])
            b["shape"] = b["shape"] if isinstance(b.get("shape"), str) else None
        lengths = group["length"].fillna(0).astype(int).tolist()
        truncated = group["truncated"].fillna(False).astype(bool).tolist()
        row = {"step": int(step), "completions": len(group), "reward": group["reward"].mean()}
        row.update({c: group[c].mean() for c in reward_columns})
        row.update(summarize(behaviour, lengths, truncated))
        rows.append(row)
    return pd.DataFrame(rows).set_index("step")


def best_and_worst(df: pd.DataFrame, step: int | None = None, n: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``n`` highest- and lowest-reward completions of ``step`` (default: the last step), best first /
    worst first."""
    step = int(df["step"].max()) if step is None else step
    rows = df[df["step"] == step]
    if rows.empty:
        raise RunLogError(f"no completions logged at step {step}; logged steps: {sorted(df['step'].unique())}")
    ranked = rows.sort_values(["reward", "length"], ascending=[False, True], kind="stable")
    return ranked.head(n), ranked.iloc[::-1].head(n)


def first_reflection(df: pd.DataFrame) -> tuple[int, pd.DataFrame] | None:
    """The first step with a reflection phrase in any completion, and those completions; None if there is none."""
    hits = df[df["reflections"] > 0]
    if hits.empty:
        return None
    step = int(hits["step"].min())
    return step, hits[hits["step"] == step]


def reflection_word_counts(df: pd.DataFrame, words: Iterable[str] | None = None) -> pd.DataFrame:
    """How often each reflection phrase appears per step (steps as rows, phrases as columns, zero columns dropped)."""
    counts: dict[int, dict[str, int]] = {}
    for step, text in zip(df["step"], df["completion"], strict=True):
        row = counts.setdefault(int(step), {})
        for start, end in reflection_matches(text, words):
            phrase = " ".join(text[start:end].lower().replace("’", "'").split())
            row[phrase] = row.get(phrase, 0) + 1
    table = pd.DataFrame.from_dict(counts, orient="index").fillna(0).astype(int).sort_index()
    table.index.name = "step"
    return table


def repeated_prompts(df: pd.DataFrame) -> pd.DataFrame:
    """Prompts logged at two or more steps: one row per prompt with its first and last step."""
    steps = df.groupby("prompt")["step"].agg(first="min", last="max")
    return steps[steps["first"] < steps["last"]].sort_values("last", ascending=False)


def early_and_late(df: pd.DataFrame) -> tuple[str, pd.DataFrame, pd.DataFrame] | None:
    """A prompt the log holds both early and late: (prompt, its completions at the first step, at the last); None if
    no prompt repeats (puzzles are drawn from thousands, so short runs rarely repeat one; see ``sample_model``)."""
    repeated = repeated_prompts(df)
    if repeated.empty:
        return None
    prompt = repeated.index[0]
    first, last = repeated.loc[prompt, "first"], repeated.loc[prompt, "last"]
    rows = df[df["prompt"] == prompt]
    return prompt, rows[rows["step"] == first], rows[rows["step"] == last]


def trained_model_dir(run_dir: str | Path) -> Path:
    """The run's final model, else its latest checkpoint."""
    run_dir = Path(run_dir)
    if (run_dir / "config.json").exists():
        return run_dir
    numbered = [p for p in run_dir.glob("checkpoint-*") if p.name.removeprefix("checkpoint-").isdigit()]
    checkpoints = sorted(numbered, key=lambda p: int(p.name.removeprefix("checkpoint-")))
    if checkpoints and (checkpoints[-1] / "config.json").exists():
        return checkpoints[-1]
    raise RunLogError(f"{run_dir} holds no saved model (no config.json, no checkpoint-N/): did the run finish?")


def sample_model(
    model_dir: str | Path,
    prompt: str,
    *,
    num_samples: int = 4,
    max_new_tokens: int = 96,
    temperature: float = 1.0,
    seed: int = 0,
    nums: list[int] | None = None,
    target: int | None = None,
    reflection_words: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Sample ``num_samples`` completions of ``prompt`` from a saved model (e.g. the trained one, to put next to the
    completions the log holds for that prompt at step 0); rows carry the same behaviour columns as the log."""
    import torch  # noqa: PLC0415 - heavy: r1lite report reads logs without torch

    from r1lite.models import load_model, load_tokenizer  # noqa: PLC0415 - heavy: r1lite report reads logs without torch
    from r1lite.task.evaluation import generate_completions  # noqa: PLC0415 - heavy: r1lite report reads logs without torch

    torch.manual_seed(seed)
    model = load_model(str(model_dir))
    tokenizer = load_tokenizer(str(model_dir))
    generated = generate_completions(
        model,
        tokenizer,
        [prompt],
        max_new_tokens=max_new_tokens,
        num_samples=num_samples,
        temperature=temperature,
        progress=False,
    )
    texts = [text for text, _, _ in generated]
    behaviour = completion_behaviour(texts, [nums] * len(texts), [target] * len(texts), reflection_words)
    rows = [
        dict(prompt=prompt, completion=text, length=length, truncated=truncated, **b)
        for (text, length, truncated), b in zip(generated, behaviour, strict=True)
    ]
    out = pd.DataFrame(rows)
    out["answered"] = out["answer_position"].notna()
    out["answer"] = out["completion"].map(extract_answer)
    return out


def same_prompt_early_late(
    df: pd.DataFrame,
    run_dir: str | Path | None = None,
    *,
    num_samples: int = 4,
    reflection_words: Iterable[str] | None = None,
    seed: int = 0,
) -> tuple[str, pd.DataFrame, pd.DataFrame, str, str] | None:
    """One prompt early and late in training: (prompt, early rows, late rows, early label, late label).

    A prompt the log holds at two steps is used as it is. Otherwise the first prompt of the first step (the
    starting model's completions) is put next to ``num_samples`` completions sampled now from the run's trained
    model (``trained_model_dir(run_dir)``) at temperature 1 and the longest logged length. None when no prompt
    repeats and ``run_dir`` is None or ``num_samples`` is 0.
    """
    found = early_and_late(df)
    if found is not None:
        prompt, early, late = found
        return prompt, early, late, f"step {early['step'].iloc[0]} (logged)", f"step {late['step'].iloc[0]} (logged)"
    if run_dir is None or num_samples <= 0:
        return None
    first = df[df["step"] == df["step"].min()]
    prompt = first["prompt"].iloc[0]
    early = first[first["prompt"] == prompt]
    model_dir = trained_model_dir(run_dir)
    target = early["target"].iloc[0]
    late = sample_model(
        model_dir,
        prompt,
        num_samples=num_samples,
        max_new_tokens=int(df["length"].max()),
        seed=seed,
        nums=early["nums"].iloc[0],
        target=None if pd.isna(target) else int(target),
        reflection_words=reflection_words,
    )
    return (
        prompt,
        early,
        late,
        f"step {early['step'].iloc[0]}: the starting model (logged)",
        f"{model_dir.name or model_dir}: the trained model (sampled now)",
    )


__all__ = [
    "DEFAULT_REFLECTION_WORDS",
    "RolloutLogWarning",
    "RunLogError",
    "best_and_worst",
    "early_and_late",
    "first_reflection",
    "load_rollouts",
    "reflection_word_counts",
    "repeated_prompts",
    "rollout_files",
    "same_prompt_early_late",
    "sample_model",
    "step_metrics",
    "trained_model_dir",
]


def curriculum_steps(run_dir: str | Path) -> pd.DataFrame | None:
    """The curriculum level and reward stage of each rollout step (index), from the run's trainer log; None
    without one.

    The trainer logs ``curriculum/level`` at optimizer step s (1-based, after the update), for the
    completions generated at rollout step s - 1. Read from ``run_summary.json``, or from the last
    checkpoint's ``trainer_state.json`` while the run has not finished."""
    run_dir = Path(run_dir)
    history = None
    if (run_dir / "run_summary.json").exists():
        history = json.loads((run_dir / "run_summary.json").read_text()).get("log_history")
    else:
        states = sorted(
            run_dir.glob("checkpoint-*/trainer_state.json"), key=lambda p: int(p.parent.name.split("-")[-1])
        )
        if states:
            history = json.loads(states[-1].read_text()).get("log_history")
    rows = [
        {
            "step": h["step"] - 1,
            "curriculum_level": h["curriculum/level"],
            "curriculum_stage": h.get("curriculum/stage"),
        }
        for h in history or []
        if "curriculum/level" in h and "step" in h
    ]
    return pd.DataFrame(rows).drop_duplicates("step", keep="last").set_index("step") if rows else None


def heldout_history(run_dir: str | Path) -> pd.DataFrame | None:
    """Held-out accuracy per evaluation (``eval/history.jsonl``): one row per step, columns
    ``<level>/accuracy``, ``<level>/accuracy_low``, ``<level>/accuracy_high`` and, where logged,
    ``<level>/template_accuracy`` (the best target-blind template's; level "all" for a run
    without curriculum levels, else "level0", "level1", ...); None for a run that evaluated nowhere."""
    path = Path(run_dir) / "eval" / "history.jsonl"
    if not path.exists():
        return None
    rows = {}
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        values = {}
        for key, value in record.items():
            parts = key.split("/")  # eval/accuracy... or eval/level0/accuracy...
            if parts[0] == "eval" and parts[-1] in ("accuracy", "accuracy_low", "accuracy_high", "template_accuracy"):
                values[("all" if len(parts) == 2 else parts[1]) + "/" + parts[-1]] = float(value)
        if any(k.startswith("level") for k in values):
            values = {k: v for k, v in values.items() if not k.startswith("all/")}
        rows[int(record["step"])] = values  # a resumed run's later record of a step wins
    return pd.DataFrame.from_dict(rows, orient="index").sort_index() if rows else None
