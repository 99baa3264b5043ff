"""Curves and samples of a run, as matplotlib figures, HTML fragments and ``r1lite report``'s page.

The notebooks and ``r1lite report RUN_DIR`` draw the same things from ``r1lite.inspection.runlog``'s tables:

    plot_curve(steps, name) / plot_curves(steps) / plot_overview(steps)   per-step curves (``CURVES``)
    samples_html(rows), side_by_side_html(...)                           completions with the tags, the
                                                                          reflection phrases and the tried
                                                                          equations highlighted
    write_report(run_dir)                                                 PNGs (every curve, an overview, held-out
                                                                          accuracy) plus one self-contained
                                                                          report.html (images inlined as data URIs)

Figures are ``matplotlib.figure.Figure`` objects made without pyplot, so nothing depends on a GUI
backend or global state; PNGs are rendered with Agg.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from r1lite.inspection.behaviour import expression_spans, reflection_matches
from r1lite.inspection.guards import Alarm, run_alarms
from r1lite.inspection.runlog import (
    best_and_worst,
    curriculum_steps,
    first_reflection,
    heldout_history,
    load_rollouts,
    reflection_word_counts,
    step_metrics,
)
from rewards.countdown import ANSWER_CLOSE, ANSWER_OPEN, THINK_CLOSE, THINK_OPEN

# name: (title, y label, [(column, legend label)]); "rewards/*" expands to every reward function's column
CURVES: dict[str, tuple[str, str, list[tuple[str, str]]]] = {
    "reward": ("Reward", "mean over the step's completions", [("reward", "weighted reward"), ("rewards/*", "")]),
    "accuracy": ("Accuracy", "fraction of completions", [("accuracy", "answer solves the puzzle")]),
    "format": (
        "Format",
        "fraction of completions",
        [("format_rate", "strict format"), ("answer_rate", "has an answer block")],
    ),
    "length": ("Completion length", "tokens", [("length_mean", "mean"), ("length_p50", "median")]),
    "truncation": ("Truncation", "fraction of completions", [("truncation_rate", "hit max_completion_length")]),
    "reflection": (
        "Reflection",
        "fraction / phrases per completion",
        [("reflection_rate", "with a reflection phrase"), ("reflections_mean", "phrases per completion")],
    ),
    "candidates": ("Candidate equations", "distinct expressions per completion", [("candidates_mean", "mean")]),
    "curriculum": (
        "Curriculum",
        "level / reward stage (0: the first)",
        [("curriculum_level", "puzzle level"), ("curriculum_stage", "reward stage")],
    ),
    "answer_position": (
        "Where the answer starts",
        "fraction of the completion",
        [("answer_position_mean", "mean, completions with an answer")],
    ),
}


def _draw(ax, steps: pd.DataFrame, name: str, alarms: Iterable[Alarm] = ()) -> None:
    title, ylabel, series = CURVES[name]
    x = steps.index.to_numpy()
    low, high = 0.0, 0.0  # the axis always shows 0; a curve that stays at 0 gets a 0..1 axis, not a hairline
    for column, label in series:
        if column == "rewards/*":  # one line per reward function
            lines = [(c, c.removeprefix("rewards/")) for c in steps.columns if c.startswith("rewards/")]
        else:
            lines = [(column, label)]
        for col, lab in lines:
            if col in steps and steps[col].notna().any():
                ax.plot(x, steps[col].to_numpy(dtype=float), marker="o", markersize=3, label=lab)
                low, high = min(low, steps[col].min()), max(high, steps[col].max())
    if name == "length" and {"length_p10", "length_p90"} <= set(steps.columns):
        ax.fill_between(
            x,
            steps["length_p10"].to_numpy(float),
            steps["length_p90"].to_numpy(float),
            alpha=0.2,
            label="10th-90th percentile",
        )
        high = max(high, steps["length_p90"].max())
    for alarm in alarms:  # where a collapse guard tripped (r1lite.inspection.guards)
        ax.axvline(alarm.step, linestyle=":", color="tab:red", alpha=0.8, label=f"guard: {alarm.guard}")
    span = high - low if high > low else 1.0
    ax.set_ylim(low - 0.03 * span, low + 1.05 * span)
    ax.set_title(title)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small")
    else:
        ax.text(0.5, 0.5, "not logged", ha="center", va="center", transform=ax.transAxes, color="grey")


def plot_curve(steps: pd.DataFrame, name: str, alarms: Iterable[Alarm] = ()) -> Figure:
    """One curve of ``CURVES`` against step, from ``runlog.step_metrics``; ``alarms``: dotted lines where collapse
    guards tripped."""
    if name not in CURVES:
        raise ValueError(f"unknown curve {name!r}; known: {', '.join(CURVES)}")
    fig = Figure(figsize=(6, 3.6), layout="constrained")
    _draw(fig.add_subplot(), steps, name, alarms)
    return fig


def plot_curves(steps: pd.DataFrame, alarms: Iterable[Alarm] = ()) -> dict[str, Figure]:
    """Every curve of ``CURVES``; the curriculum's only for a run that has one."""
    alarms = list(alarms)
    return {
        name: plot_curve(steps, name, alarms) for name in CURVES if name != "curriculum" or "curriculum_level" in steps
    }


def plot_overview(
    steps: pd.DataFrame,
    names: Iterable[str] = ("reward", "accuracy", "length", "reflection"),
    alarms: Iterable[Alarm] = (),
) -> Figure:
    """Several curves side by side in one figure (default: reward, accuracy, length, reflection rate)."""
    names = list(names)
    cols = min(len(names), 2)
    rows = -(-len(names) // cols)
    fig = Figure(figsize=(6 * cols, 3.4 * rows), layout="constrained")
    alarms = list(alarms)
    for i, name in enumerate(names):
        _draw(fig.add_subplot(rows, cols, i + 1), steps, name, alarms)
    return fig


def plot_heldout(history: pd.DataFrame) -> Figure:
    """Held-out greedy accuracy against step, one line per level with its 95% interval as a band, and the
    best target-blind template's accuracy on the same puzzles as a dashed line (``runlog.heldout_history``)."""
    fig = Figure(figsize=(6, 3.6), layout="constrained")
    ax = fig.add_subplot()
    x = history.index.to_numpy()
    for level in dict.fromkeys(c.split("/")[0] for c in history.columns):
        label = "held-out" if level == "all" else level.replace("level", "level ")
        (line,) = ax.plot(x, history[f"{level}/accuracy"].to_numpy(float), marker="o", markersize=4, label=label)
        if f"{level}/template_accuracy" in history:  # what a model that never reads the target reaches
            ax.plot(
                x,
                history[f"{level}/template_accuracy"].to_numpy(float),
                linestyle="--",
                color=line.get_color(),
                label=f"{label}: best target-blind template",
            )
        if f"{level}/accuracy_low" in history:
            ax.fill_between(
                x,
                history[f"{level}/accuracy_low"].to_numpy(float),
                history[f"{level}/accuracy_high"].to_numpy(float),
                alpha=0.2,
            )
    ax.set_ylim(-0.02, max(0.5, float(history.filter(like="accuracy").max().max()) + 0.05))
    ax.set_title("Held-out accuracy (greedy, 95% interval)")
    ax.set_xlabel("step")
    ax.set_ylabel("fraction of puzzles solved")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return fig


def figure_png(fig: Figure, dpi: int = 100) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------- HTML

STYLE = """<style>
.r1-card { border: 1px solid #ccc; border-radius: 6px; margin: 8px 0; padding: 6px 10px;
           font-family: sans-serif; font-size: 13px; }
.r1-head { color: #444; margin-bottom: 4px; }
.r1-head b { color: #000; }
.r1-text { white-space: pre-wrap; font-family: monospace; background: #f8f8f8; padding: 6px; margin: 0; }
.r1-tag { color: #0550ae; font-weight: bold; }
.r1-reflect { background: #ffe066; font-weight: bold; }
.r1-expr { border-bottom: 2px solid #2da44e; }
.r1-good { color: #1a7f37; font-weight: bold; } .r1-bad { color: #cf222e; }
.r1-side { display: flex; gap: 12px; } .r1-side > div { flex: 1; min-width: 0; }
</style>"""
LEGEND = (
    '<div class="r1-head">Highlights: <span class="r1-tag">&lt;tags&gt;</span>, '
    '<span class="r1-reflect">reflection phrases</span>, <span class="r1-expr">equations tried</span>.</div>'
)
TAGS = (THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)


def highlight_html(text: str, words: Iterable[str] | None = None) -> str:
    """``text`` HTML-escaped, with the format tags, reflection phrases and tried equations in highlighting spans."""
    words = None if words is None else tuple(words)
    spans = []  # (start, end, css class)
    for tag in TAGS:
        start = text.find(tag)
        while start >= 0:
            spans.append((start, start + len(tag), "r1-tag"))
            start = text.find(tag, start + 1)
    spans += [(s, e, "r1-reflect") for s, e in reflection_matches(text, words)]
    spans += [(s, e, "r1-expr") for s, e in expression_spans(text)]
    out, pos = [], 0
    for start, end, css in sorted(spans):
        if start < pos:  # overlaps an earlier highlight: keep the earlier one
            continue
        out.append(html.escape(text[pos:start]))
        out.append(f'<span class="{css}">{html.escape(text[start:end])}</span>')
        pos = end
    out.append(html.escape(text[pos:]))
    return "".join(out)


def _missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def _fmt(value, digits: int = 3) -> str:
    if _missing(value):
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return html.escape(str(value))


def sample_html(row: pd.Series | dict, words: Iterable[str] | None = None) -> str:
    """One completion (a row of ``load_rollouts`` or ``sample_model``) as a card: puzzle, rewards and behaviour
    fields above the highlighted text. Fields the row lacks are left out."""
    row = row if isinstance(row, pd.Series) else pd.Series(row)
    get = row.get
    parts = []
    if not _missing(get("step")):
        parts.append(f"step <b>{_fmt(get('step'))}</b>")
    if not _missing(get("target")):
        parts.append(f"numbers <b>{_fmt(list(get('nums')))}</b> target <b>{_fmt(get('target'))}</b>")
    if not _missing(get("reward")):
        columns = [k for k in row.index if str(k).startswith("rewards/")]
        rewards = ", ".join(f"{k.removeprefix('rewards/')} {_fmt(get(k))}" for k in columns)
        parts.append(f"reward <b>{_fmt(get('reward'))}</b>" + (f" ({rewards})" if rewards else ""))
    if bool(get("answered", False)):
        verdict = {True: '<span class="r1-good">correct</span>', False: '<span class="r1-bad">wrong</span>'}.get(
            None if _missing(get("correct")) else bool(get("correct")), "answer"
        )
        answer = " ".join(str(get("answer")).split())  # one line; the full block is in the text below
        answer = answer if len(answer) <= 60 else answer[:57] + "..."
        parts.append(f"{verdict}: <code>{html.escape(answer)}</code>")
    else:
        parts.append("no answer")
    parts.append(f"{_fmt(get('length'))} tokens" + (" (truncated)" if get("truncated") is True else ""))
    parts.append(f"{_fmt(get('reflections'))} reflection(s), {_fmt(get('candidates'))} equation(s) tried")
    return (
        f'<div class="r1-card"><div class="r1-head">{" &middot; ".join(parts)}</div>'
        f'<pre class="r1-text">{highlight_html(str(get("completion", "")), words)}</pre></div>'
    )


def samples_html(
    rows: pd.DataFrame, words: Iterable[str] | None = None, title: str | None = None, style: bool = True
) -> str:
    """Cards for every row of ``rows`` (a slice of ``load_rollouts``) under a legend; ``style``: include the style
    sheet (a page that already has ``STYLE`` leaves it out)."""
    head = f"<h3>{html.escape(title)}</h3>" if title else ""
    cards = "".join(sample_html(row, words) for _, row in rows.iterrows()) or "<p>(no completions)</p>"
    return (STYLE if style else "") + head + LEGEND + cards


def side_by_side_html(
    prompt: str,
    left: pd.DataFrame,
    right: pd.DataFrame,
    left_title: str,
    right_title: str,
    words: Iterable[str] | None = None,
) -> str:
    """The same prompt's completions in two columns (e.g. at step 0 and from the trained model)."""
    prompt_tail = prompt[-400:]  # the puzzle is at the end; templates put instructions first
    columns = "".join(
        f"<div><h4>{html.escape(title)}</h4>" + "".join(sample_html(r, words) for _, r in rows.iterrows()) + "</div>"
        for title, rows in ((left_title, left), (right_title, right))
    )
    return (
        STYLE + LEGEND + f'<div class="r1-card"><div class="r1-head">prompt (end)</div>'
        f'<pre class="r1-text">{html.escape(prompt_tail)}</pre></div><div class="r1-side">{columns}</div>'
    )


# ------------------------------------------------------------------------------------------- report


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def write_report(
    run_dir: str | Path,
    out: str | Path | None = None,
    *,
    reflection_words: Iterable[str] | None = None,
    samples: int = 3,
) -> Path:
    """Write ``<name>.png`` for every curve and a self-contained ``report.html`` into ``out`` (default
    ``<run_dir>/report``); returns the HTML path. Raises ``runlog.RunLogError`` for a run it cannot read."""
    run_dir = Path(run_dir)
    words = None if reflection_words is None else tuple(reflection_words)
    df = load_rollouts(run_dir, reflection_words=words)
    steps = step_metrics(df)
    curriculum = curriculum_steps(run_dir)
    if curriculum is not None:  # a step whose log lacks the level (an evaluation's record) keeps the one before
        steps = steps.join(curriculum, how="left")
        steps[list(curriculum.columns)] = steps[list(curriculum.columns)].ffill()
    out = Path(out) if out is not None else run_dir / "report"
    out.mkdir(parents=True, exist_ok=True)

    alarms = run_alarms(run_dir, steps)
    figures = plot_curves(steps, alarms)
    figures["overview"] = plot_overview(
        steps, ("reward", "accuracy", "length", "curriculum" if "curriculum_level" in steps else "reflection"), alarms
    )
    history = heldout_history(run_dir)
    if history is not None:
        figures["heldout"] = plot_heldout(history)
    images = []
    for name, fig in figures.items():
        png = figure_png(fig)
        (out / f"{name}.png").write_bytes(png)
        images.append(f'<img alt="{name}" src="{_data_uri(png)}" style="max-width: 48%;">')

    first, last = steps.iloc[0], steps.iloc[-1]
    moved = [
        ("reward", "reward"),
        ("accuracy", "accuracy"),
        ("format_rate", "format rate"),
        ("length_mean", "mean length (tokens)"),
        ("reflection_rate", "reflection rate"),
    ]
    summary_rows = "".join(
        f"<tr><td>{label}</td><td>{_fmt(first.get(col))}</td><td>{_fmt(last.get(col))}</td></tr>"
        for col, label in moved
    )
    sections = [
        f"<h1>r1lite run report</h1><p><code>{html.escape(str(run_dir))}</code>: {len(df)} completions over "
        f"{len(steps)} steps (step {steps.index[0]} to {steps.index[-1]}; a step's completions were generated "
        "before that step's update, so step 0 is the starting model).</p>",
        f"<table border=1 cellpadding=4><tr><th></th><th>step {steps.index[0]}</th>"
        f"<th>step {steps.index[-1]}</th></tr>"
        f"{summary_rows}</table>",
        *(
            [
                "<h2>Collapse guards</h2><ul>"
                + "".join(f"<li>step {a.step}: {html.escape(a.message)}</li>" for a in alarms)
                + "</ul>"
            ]
            if alarms
            else []
        ),
    ]
    final = run_dir / "eval" / "final.json"
    if final.exists():
        ev = json.loads(final.read_text())
        sections.append(
            f"<p>Held-out ({ev.get('num_prompts')} puzzles, greedy): accuracy {_fmt(ev.get('accuracy'))}, format rate "
            f"{_fmt(ev.get('format_rate'))}, mean length {_fmt(ev.get('mean_length'))} tokens, truncated "
            f"{_fmt(ev.get('truncation_rate'))}.</p>"
        )
    sections += ["<h2>Curves</h2>", "".join(images)]
    sections += ["<h2>Per step</h2>", steps.to_html(float_format=lambda v: f"{v:.3g}", na_rep="-")]
    found = first_reflection(df)
    if found is None:
        sections.append("<h2>Reflection</h2><p>No reflection phrase in any logged completion.</p>")
    else:
        step, rows = found
        counts = reflection_word_counts(df, words)
        sections += [
            f"<h2>Reflection</h2><p>First at step {step} ({len(rows)} completion(s)); "
            f"{int((df['reflections'] > 0).sum())} of {len(df)} completions have one. Phrases per step:</p>",
            counts[counts.sum(axis=1) > 0].to_html(),
            samples_html(rows.head(samples), words, f"First reflection (step {step})", style=False),
        ]
    best, worst = best_and_worst(df, n=samples)
    sections += [
        samples_html(best, words, f"Best of the last step ({int(df['step'].max())})", style=False),
        samples_html(worst, words, "Worst of the last step", style=False),
    ]
    page = (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>r1lite report</title>'
        f"{STYLE}</head><body style='font-family: sans-serif; max-width: 1200px; margin: auto;'>"
        + "\n".join(sections)
        + "</body></html>"
    )
    path = out / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
