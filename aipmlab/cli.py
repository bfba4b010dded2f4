"""The `aipmlab` command: maintenance tasks for the course (release, datasets) and the take-home."""

from __future__ import annotations

import argparse
import sys

from aipmlab import paths


def _release(arguments: argparse.Namespace) -> int:
    from aipmlab import course, release

    modules = tuple(course.module(name) for name in arguments.module) or None
    try:
        released = release.release(modules)
    except release.SourceNotebookError as error:
        raise CommandError(str(error)) from None
    for path in released:
        print(f"released {path.relative_to(paths.kit_root())}")
    return 0


def _datasets(arguments: argparse.Namespace) -> int:
    from aipmlab import datasets

    for path in datasets.write_canonical(arguments.family or None):
        print(f"wrote {path.relative_to(paths.kit_root())}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one task."""
    parser = argparse.ArgumentParser(prog="aipmlab", description=__doc__)
    tasks = parser.add_subparsers(dest="task", required=True)
    release = tasks.add_parser("release", help="refresh generated cells in solutions/ and regenerate notebooks/")
    release.add_argument("module", nargs="*", help="only these modules (e.g. 01); default: all")
    release.set_defaults(run=_release)
    regenerate = tasks.add_parser("datasets", help="regenerate the canonical data files in datasets/ from their seeds")
    regenerate.add_argument("family", nargs="*", help="only these dataset families (e.g. smart_reply); default: all")
    regenerate.set_defaults(run=_datasets)
    __import__("aipmlab.grader.cli", fromlist=["register"]).register(tasks)
    __import__("aipmlab.takehome.cli", fromlist=["register"]).register(tasks)
    arguments = parser.parse_args(argv)
    try:
        return arguments.run(arguments)
    except CommandError as error:
        print(f"aipmlab {arguments.task}: {error}", file=sys.stderr)
        return 2
    except KeyError as error:  # an unknown module, table or family: the message lists the known ones
        print(f"aipmlab {arguments.task}: {error.args[0] if error.args else error}", file=sys.stderr)
        return 2


class CommandError(Exception):
    """An expected failure of a command (bad input, a damaged file): one line for the user, no traceback."""


if __name__ == "__main__":
    sys.exit(main())
