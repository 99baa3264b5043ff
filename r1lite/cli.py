"""The ``r1lite`` command.

    r1lite fetch-model [NAME]   fetch and convert a built-in model into the cache (default: smollm2-135m-instruct)
    r1lite summary RUN_DIR      a Markdown table of a finished run: reward per step, time, held-out eval
    r1lite report RUN_DIR       curves (PNG) and a self-contained HTML page of a run's rollout log

A mistake (a run folder that cannot be read, a wrong option) is one line on stderr,
``r1lite: error: ...``, exit status 2; ``R1LITE_DEBUG=1`` shows its trace.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings

from r1lite.errors import ArgumentParser, run_main


def main(argv: list[str] | None = None) -> None:
    run_main(lambda: _main(argv))


def _main(argv: list[str] | None) -> None:
    parser = ArgumentParser(prog="r1lite", description="r1lite: R1-Zero -> R1 on small models")
    sub = parser.add_subparsers(dest="command", required=True)
    fetch = sub.add_parser("fetch-model", help="fetch and convert a built-in model into the cache (once)")
    fetch.add_argument("name", nargs="?", default=None, help="built-in model name (default: the default model)")
    summary = sub.add_parser("summary", help="Markdown table of a finished run (from run_summary.json)")
    summary.add_argument("run_dir")
    report = sub.add_parser("report", help="curves as PNG files and a self-contained report.html of a run")
    report.add_argument("run_dir", help="the run's output_dir (holding rollouts/step-*.jsonl)")
    report.add_argument("--out", default=None, help="folder for the PNGs and report.html (default: RUN_DIR/report)")
    report.add_argument("--samples", type=int, default=3, help="best and worst completions shown (default: 3)")
    report.add_argument(
        "--reflection-words",
        nargs="+",
        default=None,
        metavar="PHRASE",
        help="count these phrases as reflection instead of what the run logged "
        "(default list: r1lite.inspection.behaviour)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    from r1lite.inspection.runlog import RolloutLogWarning  # noqa: PLC0415 - pandas: --help exits before it

    show = warnings.showwarning

    def show_data_warning(message, category, *rest, **kwargs):  # skipped log lines: one line, no source location
        if issubclass(category, RolloutLogWarning):
            print(f"r1lite {args.command}: warning: {message}", file=sys.stderr)
        else:
            show(message, category, *rest, **kwargs)

    warnings.showwarning = show_data_warning
    try:
        _dispatch(args)
    finally:
        warnings.showwarning = show


def _dispatch(args: argparse.Namespace) -> None:
    if args.command == "fetch-model":
        from r1lite.models import DEFAULT_MODEL, ensure_default_model  # noqa: PLC0415 - torch: fetch-model only

        print(ensure_default_model(args.name or DEFAULT_MODEL))
    elif args.command == "summary":
        from r1lite.inspection.summary import run_table  # noqa: PLC0415 - loads rewards (0.1 s): --help skips it

        print(run_table(args.run_dir))
    elif args.command == "report":
        from r1lite.inspection.report import write_report  # noqa: PLC0415 - matplotlib and pandas: report only

        path = write_report(args.run_dir, args.out, reflection_words=args.reflection_words, samples=args.samples)
        print(f"wrote {path} and {len(list(path.parent.glob('*.png')))} PNG files in {path.parent}")


if __name__ == "__main__":
    main()
