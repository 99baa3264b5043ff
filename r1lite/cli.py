"""The ``r1lite`` command.

    r1lite fetch-model [NAME]   fetch and convert a built-in model into the cache (default: smollm2-135m-instruct)
    r1lite summary RUN_DIR      a Markdown table of a finished run: reward per step, time, held-out eval
"""

from __future__ import annotations

import argparse
import logging


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="r1lite", description="r1lite: R1-Zero -> R1 on small models")
    sub = parser.add_subparsers(dest="command", required=True)
    fetch = sub.add_parser("fetch-model", help="fetch and convert a built-in model into the cache (once)")
    fetch.add_argument("name", nargs="?", default=None, help="built-in model name (default: the default model)")
    summary = sub.add_parser("summary", help="Markdown table of a finished run (from run_summary.json)")
    summary.add_argument("run_dir")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")

    if args.command == "fetch-model":
        from r1lite.models import DEFAULT_MODEL, ensure_default_model

        print(ensure_default_model(args.name or DEFAULT_MODEL))
    elif args.command == "summary":
        from r1lite.summary import run_table

        print(run_table(args.run_dir))


if __name__ == "__main__":
    main()
