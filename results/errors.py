"""The project's one error hierarchy.

It lives in `results`, the bottom layer, so that every package can raise and catch
these without importing upward. The CLI maps each class to an exit code and prints
the message without a traceback (``bench --debug`` shows it).
"""

from __future__ import annotations


class BenchError(Exception):
    """Base of every error the CLI reports as a message rather than a crash."""

    exit_code = 2


class UsageError(BenchError):
    """A bad command-line option or argument."""


class SuiteError(BenchError):
    """A suite file that cannot be loaded or fails validation.

    ``problems`` holds one line per problem (``file: key.path: what``) so that every
    problem is reported at once.
    """

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class StoreError(BenchError):
    """The result database cannot be opened, is foreign, or is newer than the code."""


class RunNotFound(StoreError):
    """A RUN reference (id, uid prefix, latest, latest:LABEL) matched no run or several."""


class ImportFormatError(BenchError):
    """An imported file (e.g. pytest-benchmark JSON) is not of the expected shape."""
