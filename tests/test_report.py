"""`r1lite report`: PNG curves and a self-contained HTML page; highlighting escapes the model's text."""

from __future__ import annotations

import re

import pytest
from test_runlog import GOOD, RAMBLE, WRONG, record, write_run  # tests/ is on sys.path under pytest

from r1lite.inspection.report import CURVES, highlight_html, plot_curve, plot_overview, write_report
from r1lite.inspection.runlog import load_rollouts, step_metrics

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def run(tmp_path):
    return write_run(
        tmp_path / "run",
        {
            "step-000000.jsonl": [record(0, 0, RAMBLE), record(0, 1, WRONG), record(0, 2, RAMBLE)],
            "step-000001.jsonl": [record(1, 0, GOOD), record(1, 1, WRONG), record(1, 2, "<script>alert(1)</script>")],
        },
    )


def assert_self_contained(page: str) -> None:
    sources = re.findall(r"""\b(?:src|href)\s*=\s*["']?([^"' >]+)""", page)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources), sources[:3]
    assert "<script" not in page.lower() and "<link" not in page.lower() and "@import" not in page


def test_report_writes_pngs_and_a_self_contained_page(run):
    path = write_report(run)
    assert path == run / "report" / "report.html"  # default: RUN_DIR/report
    curves = [name for name in CURVES if name != "curriculum"]  # a run without a curriculum has no such curve
    curves.append("overview")  # reward, accuracy, length and reflection in one figure
    for name in curves:
        png = (run / "report" / f"{name}.png").read_bytes()
        assert png.startswith(PNG_MAGIC) and len(png) > 5_000, name
    assert not (run / "report" / "curriculum.png").exists()
    page = path.read_text()
    assert_self_contained(page)
    assert page.count('src="data:image/png;base64,') == len(curves)
    assert "First at step 0" in page and "Best of the last step (1)" in page
    assert '<span class="r1-reflect">wait</span>' in page and '<span class="r1-tag">&lt;answer&gt;</span>' in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the model's text is escaped, never markup


def test_cli_report(run, tmp_path, capsys):
    from r1lite.cli import main

    main(["report", str(run), "--out", str(tmp_path / "out"), "--samples", "1"])
    assert "wrote" in capsys.readouterr().out
    assert (tmp_path / "out" / "report.html").exists() and (tmp_path / "out" / "length.png").exists()


def test_cli_report_warns_about_a_killed_run(run, tmp_path, capsys):
    from r1lite.cli import main

    last = run / "rollouts" / "step-000001.jsonl"
    last.write_text(last.read_text()[:-30])
    main(["report", str(run), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert "r1lite report: warning:" in err and "skipped 1 of 3 lines" in err and "Traceback" not in err


HIGHLIGHTS = [
    # (text, expected HTML)
    ("a<b & c", "a&lt;b &amp; c"),  # plain text is escaped
    ("Wait</think>", '<span class="r1-reflect">Wait</span><span class="r1-tag">&lt;/think&gt;</span>'),
    (
        "2 * 4 = 8</think><answer>2 * 4</answer>",  # equations in the reasoning only, not in the answer
        '<span class="r1-expr">2 * 4</span> = 8<span class="r1-tag">&lt;/think&gt;</span><span class="r1-tag">'
        '&lt;answer&gt;</span>2 * 4<span class="r1-tag">&lt;/answer&gt;</span>',
    ),
    ("<b>hmm</b>", '&lt;b&gt;<span class="r1-reflect">hmm</span>&lt;/b&gt;'),  # markup from the model stays text
]


@pytest.mark.parametrize("text,expected", HIGHLIGHTS, ids=[f"h{i}" for i in range(len(HIGHLIGHTS))])
def test_highlight_html(text, expected):
    assert highlight_html(text) == expected


def test_plots(run):
    steps = step_metrics(load_rollouts(run))
    assert len(plot_overview(steps).axes) == 4
    assert plot_curve(steps, "length").axes[0].get_title() == "Completion length"
    with pytest.raises(ValueError, match="unknown curve 'speed'"):
        plot_curve(steps, "speed")
