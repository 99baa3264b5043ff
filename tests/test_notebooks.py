"""Both notebooks run headless (nbclient, the venv's python3 kernel) and draw their figures; committed without outputs.

quickstart.ipynb trains the tiny recipe (the environment variables swap it in for the default model), and
inspect_rollouts.ipynb then reads that run, so one tiny run serves both.
"""

from __future__ import annotations

import os

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

from conftest import REPO  # noqa: E402

NOTEBOOKS = REPO / "notebooks"
NAMES = ["quickstart.ipynb", "inspect_rollouts.ipynb"]


@pytest.mark.parametrize("name", NAMES)
def test_committed_without_outputs(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{name}: clear the outputs before committing"


def execute(name: str, **env: str):
    """Run every cell of a notebook from the notebooks folder, as Jupyter would; a failing cell raises."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    client.execute(env={**os.environ, **env})
    return nb


def outputs(nb, mime: str) -> list[str]:
    return [
        out["data"][mime]
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if mime in out.get("data", {})
    ]


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory, tiny_model_path):
    run = tmp_path_factory.mktemp("quickstart") / "run"
    nb = execute(
        "quickstart.ipynb",
        R1LITE_QUICKSTART_RECIPE=str(REPO / "configs" / "tiny" / "zero.yaml"),
        R1LITE_QUICKSTART_OUT=str(run),
        R1LITE_QUICKSTART_STEPS="2",
    )
    return nb, run


def test_quickstart_trains_and_shows_samples(quickstart):
    nb, run = quickstart
    assert sorted(p.name for p in (run / "rollouts").iterdir()) == ["step-000000.jsonl", "step-000001.jsonl"]
    assert outputs(nb, "image/png"), "no figure"
    assert any("r1-card" in html for html in outputs(nb, "text/html")), "no sample cards"


def test_inspect_rollouts_on_the_quickstart_run(quickstart):
    _, run = quickstart
    nb = execute("inspect_rollouts.ipynb", R1LITE_RUN_DIR=str(run), R1LITE_COMPARE_SAMPLES="2")
    assert len(outputs(nb, "image/png")) >= 2, "the curves are missing"
    html = "".join(outputs(nb, "text/html"))
    assert "r1-card" in html and "r1-side" in html  # sample browser, best/worst, early/late side by side
    assert "the trained model (sampled now)" in html  # no prompt repeats in 2 steps: the trained model was sampled
