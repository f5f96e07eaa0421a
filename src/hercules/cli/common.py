"""What every command shares: logging set-up, option parsing, and turning user errors into one line.

Only click and the standard library are imported here, so ``hercules --help`` stays fast; the
package itself is imported inside the commands.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

#: Python spellings in library messages, and the flag a command-line user types instead.
_FLAG_SPELLINGS = (
    ("missing='drop' (CLI: --drop-missing)", "--drop-missing"),
    ("missing='drop'", "--drop-missing"),
    ("--overwrite (overwrite=True)", "--overwrite"),
    ("overwrite=True (CLI: --overwrite)", "--overwrite"),
    ("overwrite=True", "--overwrite"),
    ("text_column= (CLI: --text-column)", "--text-column"),
    ("levels='auto'", "--levels auto"),
)
_PACKAGE_DIR = Path(__file__).resolve().parents[1]


def setup_logging(verbose: int, quiet: bool) -> None:
    """Log to stderr (stdout carries results); quiet third-party loggers."""
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("sentence_transformers", "transformers", "httpx", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def one_line(message: str) -> str:
    """A message on one line, naming command-line flags where the library names Python arguments."""
    text = " ".join(str(message).split())
    for python, flag in _FLAG_SPELLINGS:
        text = text.replace(python, flag)
    return text


def _raised_by_hercules(e: BaseException) -> bool:
    """Whether the exception's class is hercules' own, or a plain ValueError raised by hercules code."""
    if any(c.__module__.split(".")[0] == "hercules" for c in type(e).__mro__):
        return True
    if not isinstance(e, ValueError):
        return False
    tb = e.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and Path(tb.tb_frame.f_code.co_filename).resolve().is_relative_to(_PACKAGE_DIR)


def os_message(e: OSError) -> str:
    """``path: reason`` for a file-system error, without Python's errno decoration."""
    if e.filename and e.strerror:
        return f"{e.filename}: {e.strerror}"
    return str(e) or type(e).__name__


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the errors a user can cause (bad input, settings, files, services) into one ``Error:`` line.

    Anything else is a bug and keeps its traceback, so it can be reported.
    """
    try:
        yield
    except click.ClickException:
        raise
    except OSError as e:
        raise click.ClickException(one_line(os_message(e))) from None
    except Exception as e:
        if not _raised_by_hercules(e):
            raise
        raise click.ClickException(one_line(str(e) or type(e).__name__)) from None


def library_rule(target: str, keep_value: bool = False) -> Any:
    """A click callback that checks an option with the library's own rule (``"module:function"``, imported only when
    the option is parsed, so ``--help`` stays fast) before any work; its ``ValueError`` becomes a one-line usage
    error. The callback returns what the rule returns, or the value as given with ``keep_value``."""
    module, name = target.split(":")

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        import importlib

        try:
            parsed = getattr(importlib.import_module(module), name)(value)
        except ValueError as e:
            raise click.BadParameter(one_line(str(e))) from None
        return value if keep_value else parsed

    return callback


#: ``--levels``: validated and parsed by the library's rule.
parse_levels_option = library_rule("hercules.pipeline.policy:parse_levels")


def read_vectors(path: str | None) -> Any:
    """Precomputed embeddings from ``--embeddings``, or None."""
    if path is None:
        return None
    from hercules.data.readers import read_vectors as _read

    return _read(path)


def write_csv(frame: Any, output: str | None, index: bool = True) -> None:
    """A result table to ``output`` or to standard output."""
    frame.to_csv(output if output else sys.stdout, index=index)


def llm_provider(spec: str, base_url: str | None) -> Any:
    """The LLM provider for ``--llm``; a bad spec or a missing backend is one clear line."""
    from hercules.llm import get_llm

    try:
        return get_llm(spec, base_url=base_url) if base_url else get_llm(spec)
    except (ValueError, RuntimeError, ImportError) as e:
        raise click.ClickException(one_line(str(e))) from None
