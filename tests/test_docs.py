"""Every repository path and command the docs name exists.

The docs are read for their code (inline `spans` and fenced blocks) and their links:

- in code, a token is a repository path when it starts with a top-level folder of the repository or ends
  in a known extension; it must exist relative to the repository root, the doc's folder, or a folder the
  same line names before it (a Files table row: ``| `r1lite/task/` | `countdown.py`, ... |``);
- a relative link must exist relative to the doc's folder, and its #anchor must be a heading there;
- ``make TARGET`` must be a Makefile target, ``python SCRIPT`` and ``accelerate launch ... SCRIPT`` an
  existing script, ``r1lite SUBCOMMAND`` a subcommand of r1lite/cli.py.

Outputs of runs (under runs/, or placeholders: output_dir/, RUN_DIR/) and patterns (``*``, ``{a,b}``,
``<out>``, ``[gpu]``) are not checked.
"""

import re
import shlex
from pathlib import Path

import pytest

from conftest import REPO

DOCS = sorted(
    {REPO / "README.md", REPO / "bench" / "README.md", REPO / "bench" / "LOG.md", *REPO.glob("docs/*.md")}
    | {p for p in [REPO / "notebooks" / "README.md"] if p.exists()}
)
TOP_FOLDERS = ("r1lite", "recipes", "rewards", "configs", "bench", "tests", "notebooks", "docs", ".ci")
EXTENSIONS = (".py", ".yaml", ".yml", ".toml", ".md", ".ipynb", ".png", ".cfg")
NOT_IN_REPO = ("runs/", "output_dir/", "RUN_DIR/", "~", "$", "/", "../runs/")
PATTERN = re.compile(r"[*?{}<>\[\]]")
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
INLINE = re.compile(r"`([^`\n]+(?:\n[^`\n]+)*)`")  # may run onto the next line, not past a blank one
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
COMMAND_START = {"&&", "||", ";", "|", "then", "do", "run:"}


def code_lines(text: str) -> list[list[str]]:
    """The code of a doc by line: each line of a fenced block (continuations joined) is one span; each
    other line gives the inline spans that start on it, in order (a span may run onto the next line)."""
    lines = []
    for block in FENCE.findall(text):
        lines += [[line] for line in block.replace("\\\n", " ").splitlines()]
    by_line: dict[int, list[str]] = {}
    prose = FENCE.sub("", text)
    for match in INLINE.finditer(prose):
        by_line.setdefault(prose.count("\n", 0, match.start()), []).append(" ".join(match.group(1).split()))
    return lines + list(by_line.values())


def is_repo_path(token: str) -> bool:
    if "://" in token or PATTERN.search(token) or token.startswith(NOT_IN_REPO):
        return False
    in_top_folder = "/" in token and token.split("/")[0] in TOP_FOLDERS
    return in_top_folder or (token.endswith(EXTENSIONS) and Path(token).suffix != "")


def exists(token: str, bases) -> bool:
    return any((base / token).exists() for base in bases)


def missing_paths(doc: Path, text: str | None = None) -> list[str]:
    text = doc.read_text() if text is None else text
    missing = []
    for spans in code_lines(text):
        folders = []  # folders this line has named so far
        for token in (t.lstrip("\"'(").rstrip("\"'),;:.") for span in spans for t in span.split()):
            token = token.removeprefix("./")
            if not token or not is_repo_path(token):
                continue
            if token.endswith("/") and (REPO / token).is_dir():
                folders.append(REPO / token)
            if not exists(token, [REPO, doc.parent, *folders]):
                missing.append(token)
    for link in LINK.findall(text):
        target, _, anchor = link.partition("#")
        if "://" in target or target.startswith(("mailto:", *NOT_IN_REPO)):
            continue
        path = doc.parent / target if target else doc
        if not path.exists():
            missing.append(target)
        elif anchor and path.suffix == ".md" and anchor not in anchors(path.read_text() if target else text):
            missing.append(link)
    return sorted(set(missing))


def anchors(text: str) -> set[str]:
    """GitHub's anchors of a Markdown text's headings: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+\s+(.+?)\s*$", FENCE.sub("", text), re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def makefile_targets() -> set[str]:
    return set(re.findall(r"^([\w-]+):", (REPO / "Makefile").read_text(), re.M))


def cli_subcommands() -> set[str]:
    return set(re.findall(r'add_parser\(\s*"([\w-]+)"', (REPO / "r1lite" / "cli.py").read_text()))


def commands(doc: Path, text: str | None = None) -> list[tuple[str, str]]:
    """(kind, name) of every command the doc's code runs: make targets, scripts, r1lite subcommands."""
    text = doc.read_text() if text is None else text
    found = []
    for span in (span for spans in code_lines(text) for span in spans):
        try:
            words = shlex.split(span, comments=True)
        except ValueError:  # an unbalanced quote: prose in a code span
            words = span.split()
        for i, word in enumerate(words):
            before = words[i - 1] if i else ""
            at_start = i == 0 or before in COMMAND_START or re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", before)
            rest = words[i + 1 :]
            if word in ("make", "r1lite") and at_start and rest and re.fullmatch(r"[a-z][\w-]*", rest[0]):
                found.append((word, rest[0]))
            elif Path(word).name in ("python", "python3") and at_start:
                script = next((w for w in rest if not w.startswith("-")), "")
                if script.endswith(".py"):
                    found.append(("script", script))
            elif word == "accelerate" and at_start and rest[:1] == ["launch"]:
                script = next((w for w in rest if w.endswith(".py")), "")
                if script:  # `accelerate launch` alone is prose
                    found.append(("script", script))
    return found


CHECKS = {
    "make": lambda name, doc: name in makefile_targets(),
    "r1lite": lambda name, doc: name in cli_subcommands(),
    "script": lambda name, doc: exists(name, [REPO, doc.parent]),
}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_paths_in_docs_exist(doc):
    missing = missing_paths(doc)
    assert not missing, f"{doc.relative_to(REPO)} names paths that do not exist: {missing}"


@pytest.mark.parametrize("kind", sorted(CHECKS))
@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_commands_in_docs_exist(doc, kind):
    unknown = sorted({name for k, name in commands(doc) if k == kind and not CHECKS[kind](name, doc)})
    assert not unknown, f"{doc.relative_to(REPO)}: {kind} commands that do not exist: {unknown}"


# The checker itself: a doc line (as if in README.md) and what it must report.
PATH_CASES = [
    ("`r1lite/no_such.py`", ["r1lite/no_such.py"]),
    ("`rewards/countdown.py`, `runs/x/results.md`, `configs/*/zero.yaml`, `.[gpu]`", []),
    ("| `r1lite/task/` | `countdown.py`, `nowhere.py` |", ["nowhere.py"]),
    ("[a link](nowhere/file.md), [ok](bench/README.md#speed), [web](https://example.org/x.md)", ["nowhere/file.md"]),
    (
        "## Files\n[gone](docs/results.md#no-such-heading), [here](#files), [not here](#speed)",
        ["#speed", "docs/results.md#no-such-heading"],
    ),
    ("`eval/final.json`, `run_summary.json`, `~/.cache/r1lite`, `output_dir/adapter/`", []),
    (
        "```bash\naccelerate launch --config_file configs/accelerate/nope.yaml recipes/zero.py\n```",
        ["configs/accelerate/nope.yaml"],
    ),
]
COMMAND_CASES = [
    ('`make zero ARGS="--max_steps 5"`', [("make", "zero")]),
    ("`python recipes/eval.py runs/x` and `python -m venv .venv`", [("script", "recipes/eval.py")]),
    (
        "```bash\naccelerate launch --num_processes 1 recipes/smoke.py --config c.yaml\n```",
        [("script", "recipes/smoke.py")],
    ),
    ("```python\nfrom r1lite import load_rollouts\n```", []),
    (
        "`r1lite report runs/x` and `HF_HUB_OFFLINE=1 .venv/bin/python bench/x.py`",
        [("r1lite", "report"), ("script", "bench/x.py")],
    ),
]


@pytest.mark.parametrize("text, expected", PATH_CASES)
def test_path_check(text, expected):
    assert missing_paths(REPO / "README.md", text + "\n") == expected


@pytest.mark.parametrize("text, expected", COMMAND_CASES)
def test_command_check(text, expected):
    assert commands(REPO / "README.md", text + "\n") == expected


def test_known_targets_and_subcommands():
    assert {"zero", "test", "pipeline"} <= makefile_targets()
    assert {"fetch-model", "summary", "report"} <= cli_subcommands()
