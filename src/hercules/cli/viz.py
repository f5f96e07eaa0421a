"""``hercules export`` and ``hercules plot``: share a saved result as one HTML map or as pictures.

Standalone click commands (registered on the main group with ``cli.add_command``). Heavy imports (numpy,
matplotlib, the model) happen inside the commands so ``hercules --help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

_RESULT = click.Path(exists=True, file_okay=False)


@contextmanager
def _user_errors() -> Iterator[None]:
    """A damaged result, an unwritable path or a bad option is one ``Error:`` line, not a traceback."""
    try:
        yield
    except click.ClickException:
        raise
    except OSError as e:
        msg = f"{e.filename}: {e.strerror}" if e.filename and e.strerror else str(e)
        raise click.ClickException(msg) from None
    except ValueError as e:  # VizError, ResultFormatError, InputError are ValueErrors
        raise click.ClickException(" ".join(str(e).split())) from None


def _load(result: str) -> Any:
    import hercules

    return hercules.load(result)


@click.command("export")
@click.argument("result", type=_RESULT)
@click.option(
    "--html", "html_path", type=click.Path(dir_okay=False), default="map.html", show_default=True, help="HTML file to write."
)
@click.option(
    "--max-points",
    type=click.IntRange(min=1),
    default=100_000,
    show_default=True,
    help="Items drawn; more are shown as a random sample (sizes stay exact).",
)
@click.option("--title", help="Page title (default: item count and levels).")
def export(result: str, html_path: str, max_points: int, title: str | None) -> None:
    """Write a self-contained, zoomable HTML map of a saved RESULT (opens offline; share it as one file)."""
    import time

    from hercules.viz import export_html

    with _user_errors():
        t0 = time.perf_counter()
        path = export_html(_load(result), html_path, max_points=max_points, title=title)
        size = path.stat().st_size / 1e6
        click.echo(f"wrote {path} ({size:.1f} MB) in {time.perf_counter() - t0:.1f} s")


@click.command("plot")
@click.argument("result", type=_RESULT)
@click.option(
    "--kind",
    type=click.Choice(["map", "sunburst", "sizes"]),
    default="map",
    show_default=True,
    help="map: items and titles; sunburst: the tree; sizes: cluster sizes per level.",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="Picture to write: .png, .svg or .pdf.")
@click.option("--dpi", type=click.IntRange(min=30, max=1200), default=150, show_default=True, help="Resolution of PNG output.")
def plot(result: str, kind: str, output: str, dpi: int) -> None:
    """Draw a picture of a saved RESULT: a labelled map, a sunburst of the tree, or cluster sizes."""
    suffix = Path(output).suffix.lower()
    if suffix not in (".png", ".svg", ".pdf"):
        raise click.ClickException(f"cannot write {output!r}: use a file ending in .png, .svg or .pdf")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise click.ClickException("plots need matplotlib: pip install 'hercules-cluster[viz]'") from None
    from hercules.viz import plot as _plot

    with _user_errors():
        _plot(_load(result), kind=kind, path=output, dpi=dpi)
        click.echo(f"wrote {output}")
