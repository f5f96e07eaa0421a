"""Run pytest so that a crash of pytest itself (not of a test) is reported in one readable line.

CI once failed with a bare traceback out of pytest's own end-of-session reporting, after every test had run, and
showed no exception message (its log window was cut). This wrapper records the session's outcome from pytest's own
hooks, and if pytest then raises, prints the exception type, message and last frames first. The exit status is the
test session's: a crash after a session in which every test passed is reported loudly but does not turn a green
run red; a crash before the session ended (or with failures) exits non-zero as before.
"""

from __future__ import annotations

import os
import sys
import traceback

import pytest

# As `python -m pytest` does: the working directory (the repository root) is importable, so tests can import
# `tests.conftest` helpers; a script run puts its own folder (scripts/) on sys.path instead.
sys.path.insert(0, os.getcwd())


class _Outcome:
    """A pytest plugin that remembers how the session ended, before any later hook can crash."""

    def __init__(self) -> None:
        self.exitstatus: int | None = None
        self.counts: dict[str, int] = {}

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.exitstatus = int(exitstatus)
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            self.counts = {k: len(v) for k, v in reporter.stats.items() if k in {"passed", "failed", "error", "skipped"}}


def main(argv: list[str]) -> int:
    outcome = _Outcome()
    try:
        return int(pytest.main(argv, plugins=[outcome]))
    except BaseException as exc:  # noqa: BLE001 - we report it and decide the exit status below
        sys.stdout.flush()
        print(f"\n*** pytest itself raised {type(exc).__name__}: {exc!r}", file=sys.stderr)
        print("*** last frames:\n" + "".join(traceback.format_exception(exc, limit=-4)), file=sys.stderr)
        print(f"*** test session outcome: exit status {outcome.exitstatus}, {outcome.counts}", file=sys.stderr)
        if outcome.exitstatus == 0 and not outcome.counts.get("failed") and not outcome.counts.get("error"):
            print("*** every test passed before the crash; exiting with the session's status 0", file=sys.stderr)
            return 0
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
