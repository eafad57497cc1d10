"""invoke's command line, answering a task name it does not know with the nearest real one.

invoke's own `invoke` program prints "No idea what 'migrat' is!"; this Program subclass (invoke's
documented way to change its command line) says `error: no task named 'migrat'; did you mean
'migrate'?`, for a task to run and for `--help TASK`. The `invoke` and `inv` scripts of the
virtual environment bootstrap.py makes run `program` below (bootstrap.py writes them on each run,
in place of pip's); bootstrap.py asks `exit_if_refused` before it installs the development lock
for a task, so that a typo costs no install.
"""

from __future__ import annotations

import difflib
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import invoke
from invoke.exceptions import ParseError

# invoke's parser, on a word that is neither a task nor an option (invoke/parser/parser.py), and
# its --help on a name that is no task (invoke/program.py).
UNKNOWN = re.compile(r"No idea what '(?P<word>[^']*)' is!")


def unknown_task_message(word: str, names: Iterable[str]) -> str:
    """One line: the unknown word, and the closest task names (difflib) or where to see them all."""
    close = difflib.get_close_matches(word, sorted(set(names)), n=3, cutoff=0.6)
    if close:
        return f"error: no task named {word!r}; did you mean {' or '.join(map(repr, close))}?"
    return f"error: no task named {word!r}; `invoke --list` shows every task."


class Program(invoke.Program):
    def parse_tasks(self) -> None:
        with self.naming_the_nearest_tasks():
            super().parse_tasks()

    def parse_cleanup(self) -> None:
        with self.naming_the_nearest_tasks():
            super().parse_cleanup()

    @contextmanager
    def naming_the_nearest_tasks(self) -> Iterator[None]:
        """invoke's ParseError on an unknown task name, as unknown_task_message; on an unknown
        option, as it is."""
        try:
            yield
        except ParseError as exc:
            unknown = UNKNOWN.fullmatch(str(exc))
            if not unknown or unknown["word"].startswith("-"):
                raise
            names = [alias for name, aliases in self.collection.task_names.items()
                     for alias in (name, *aliases)]
            raise ParseError(unknown_task_message(unknown["word"], names), exc.context) from None


# As invoke.main.program (tasks.py found and loaded as `invoke` does), with the answer above.
PROGRAM = {"name": "Invoke", "binary": "inv[oke]", "binary_names": ["invoke", "inv"],
           "version": invoke.__version__}
program = Program(**PROGRAM)


def refusal(argv: list[str]) -> str | None:
    """What `invoke` says when it refuses the command line `argv` (a task it does not know, an
    option no task takes); None when it would run it. Parses as `invoke` does, running nothing."""
    checking = Program(**PROGRAM)
    try:
        checking.create_config()
        checking.parse_core(["invoke", *argv])
        checking.parse_collection()
        checking.parse_tasks()
    except ParseError as exc:
        return str(exc)
    except invoke.Exit:  # --version, --print-completion-script: the real run shows them
        return None
    return None


def exit_if_refused(argv: list[str]) -> None:
    """Exit as `invoke` does (its message, code 1) when it would refuse `argv`."""
    message = refusal(argv)
    if message is not None:
        print(message, file=sys.stderr)
        raise SystemExit(1)
