"""invoke's command line, answering a task name it does not know with the nearest real one.

invoke's own `invoke` program prints "No idea what 'migrat' is!"; this Program subclass (invoke's
documented way to change its command line) says `error: no task named 'migrat'; did you mean
'migrate'?`. It takes effect where a program runs it (`program.run()`), not in the `invoke`
script pip installs, which runs invoke's own Program.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

import invoke
from invoke.exceptions import ParseError

# invoke's parser, on a word that is neither a task nor an option (invoke/parser/parser.py).
UNKNOWN = re.compile(r"No idea what '(?P<word>[^']*)' is!")


def unknown_task_message(word: str, names: Iterable[str]) -> str:
    """One line: the unknown word, and the closest task names (difflib) or where to see them all."""
    close = difflib.get_close_matches(word, sorted(set(names)), n=3, cutoff=0.6)
    if close:
        return f"error: no task named {word!r}; did you mean {' or '.join(map(repr, close))}?"
    return f"error: no task named {word!r}; `invoke --list` shows every task."


class Program(invoke.Program):
    def parse_tasks(self) -> None:
        try:
            super().parse_tasks()
        except ParseError as exc:
            unknown = UNKNOWN.fullmatch(str(exc))
            if not unknown or unknown["word"].startswith("-"):
                raise
            names = [alias for name, aliases in self.collection.task_names.items()
                     for alias in (name, *aliases)]
            raise ParseError(unknown_task_message(unknown["word"], names), exc.context) from None


# As invoke.main.program (tasks.py found and loaded as `invoke` does), with the answer above:
# what an `invoke` script would run (`from ops.program import program; program.run()`).
program = Program(name="Invoke", binary="inv[oke]", binary_names=["invoke", "inv"],
                  version=invoke.__version__)
