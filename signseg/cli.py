"""The ``signseg`` command line: what ``make`` calls.

    signseg run NOTEBOOK [--profile P] [--set KEY=VALUE ...] [--force]   execute one notebook
    signseg book [--profile P] [--set KEY=VALUE ...] [--force]           execute all, build the book
    signseg zoo list [--source S] [--dataset D]  list the model zoo
    signseg profiles                             list the profiles and what they run
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from .errors import SignsegError

__all__ = ["main"]

_SET_HELP = (
    "change one notebook parameter for this run, on top of the profile: a name from the "
    "notebook's parameters cell or a dotted path into one (visualization.iterations=5, "
    "train.cifar10.epochs=2, 'models=[resnet18, vgg16]'); the value is read as YAML. Repeatable."
)


def _add_common(command: argparse.ArgumentParser, what: str) -> None:
    from .profiles import names

    known = names()
    command.add_argument(
        "--profile", default="quick", choices=known, metavar="{" + ",".join(known) + "}",
        help=f"parameter set to {what} with (default: quick; 'signseg profiles' lists what "
             "each one runs): ci = minutes on any CPU, quick = a laptop within 2 hours, "
             "paper = the paper's models on a GPU")
    command.add_argument("--set", dest="overrides", action="append", default=[],
                         metavar="KEY=VALUE", help=_SET_HELP)
    command.add_argument("--force", action="store_true", help="ignore the execution cache")


def _report(message: str) -> None:
    print(message, flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="signseg", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="execute one notebook for a profile")
    run.add_argument("notebook", help="stem (01_dale_index) or path of notebooks/NN_name.md")
    _add_common(run, "execute the notebook")
    run.add_argument("--log-output", action="store_true", help="stream cell output")

    book = sub.add_parser("book", help="execute all notebooks and build the HTML book")
    _add_common(book, "execute the notebooks")

    zoo = sub.add_parser("zoo", help="the model zoo")
    zoo_sub = zoo.add_subparsers(dest="zoo_command", required=True)
    listing = zoo_sub.add_parser("list", help="list model names")
    listing.add_argument("--source", choices=["torchvision", "published", "project"])
    listing.add_argument("--dataset")

    sub.add_parser("profiles", help="list the profiles and the models each notebook uses")
    return parser


def _zoo_list(source: str | None, dataset: str | None) -> None:
    from . import zoo

    for name in zoo.names(source=source, dataset=dataset):
        entry = zoo.info(name)
        accuracy = getattr(entry, "top1", None)
        extra = f"  top-1 {accuracy:.2f}%" if accuracy else ""
        print(f"{name:28s} {entry.source:12s} {entry.dataset:11s}{extra}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    args = _parser().parse_args(argv)
    try:
        overrides = {}
        if args.command in ("run", "book"):
            from .overrides import parse_assignments

            overrides = parse_assignments(args.overrides)
        if args.command == "run":
            from .runner import execute

            result = execute(args.notebook, args.profile, force=args.force,
                             log_output=args.log_output, overrides=overrides, report=_report)
            state = "cached" if result.cached else f"executed in {result.seconds:.1f} s"
            print(f"{result.stem} [{args.profile}] {state}: {result.path}")
        elif args.command == "book":
            from .book import build

            build(args.profile, force=args.force, overrides=overrides, report=_report)
        elif args.command == "zoo":
            _zoo_list(args.source, args.dataset)
        elif args.command == "profiles":
            from .profiles import summary

            print(summary().to_string(index=False))
    except (SignsegError, FileNotFoundError, RuntimeError) as error:
        print(f"signseg: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
