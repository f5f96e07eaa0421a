"""``hercules update RESULT NEW_DATA``: grow a saved result with new items, never damaging it.

The updated result goes to a new folder (``-o``, default ``RESULT-updated``) unless
``--in-place`` is given; either way the destination is checked before any work, and the save
swaps the complete new result in atomically, so a failure leaves every existing result whole.
Only click and the standard library are imported here; the package is imported in the command.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from hercules.cli.common import llm_provider, one_line, read_vectors, setup_logging, user_errors

log = logging.getLogger(__name__)

#: Command-line option -> update option; unset ones keep the library's defaults.
_UPDATE_OPTIONS = ("outlier_quantile", "min_cluster_size", "relabel_threshold", "split", "max_splits")


def _destination(result: str, output: str | None, in_place: bool, overwrite: bool) -> str:
    """Where the updated result goes, checked now: never RESULT itself unless ``--in-place``."""
    from hercules.persistence import check_destination

    if in_place and output:
        raise click.ClickException("--in-place writes the update into RESULT itself; leave out -o/--output")
    here = Path(result) if Path(result).name not in ("", ".", "..") else Path(result).resolve()
    dest = result if in_place else (output or f"{here}-updated")
    if not in_place and Path(dest).resolve() == Path(result).resolve():
        raise click.ClickException(f"-o {output} is RESULT itself; pass --in-place to update it in place")
    try:
        check_destination(dest, overwrite=overwrite or in_place)
    except ValueError as e:
        raise click.ClickException(one_line(str(e))) from None
    return dest


def _labeler_note(model: Any, llm: str) -> None:
    """Say so when LLM-written titles will be joined by keyword titles."""
    if llm == "none" and any(lab.source.startswith("llm") for lvl in model.hierarchy_.levels for lab in lvl.labels):
        log.warning("this result has LLM-written titles; new and changed clusters get keyword titles unless you pass --llm")


@click.command()
@click.argument("result", type=click.Path(exists=True, file_okay=False))
@click.argument("data", type=click.Path(exists=True))
@click.option("-o", "--output", type=click.Path(), help="Folder for the updated result (default: RESULT-updated).")
@click.option("--in-place", is_flag=True, help="Update RESULT itself (swapped in atomically once complete).")
@click.option("--overwrite", is_flag=True, help="Replace an existing result in OUTPUT (other files there are kept).")
@click.option("--text-column", help="Column holding the text (default: the one used for fitting, else detected).")
@click.option("--id-column", help="Column holding unique item ids (colliding ids are renumbered or prefixed).")
@click.option(
    "--embeddings", "embeddings_path", type=click.Path(exists=True, dir_okay=False), help="Precomputed embeddings (.npy)."
)
@click.option("--llm", default="none", show_default=True, help="Who titles new and changed clusters (as in `hercules run`).")
@click.option("--llm-base-url", help="Base URL of an OpenAI-compatible server.")
@click.option(
    "--outlier-quantile",
    type=click.FloatRange(0, 1, min_open=True),
    help="An item fits no cluster beyond this quantile of the cluster's member distances [default: 0.9].",
)
@click.option("--min-cluster-size", type=click.IntRange(min=2), help="Fewest outliers that form a new cluster [default: 10].")
@click.option(
    "--relabel-threshold",
    type=click.FloatRange(min=0),
    help="Re-title clusters whose size changed by more than this fraction [default: 0.2].",
)
@click.option("--split", is_flag=True, default=None, help="Split clusters that at least doubled (bounded by --max-splits).")
@click.option("--max-splits", type=click.IntRange(min=0), help="Most clusters split in one update [default: 5].")
@click.option("--drop-missing", is_flag=True, help="Skip empty texts / NaN rows / unreadable images instead of failing.")
@click.option("--save-embeddings", type=click.Choice(["float16", "float32", "none"]), default="float16", show_default=True)
@click.option("--no-progress", is_flag=True, help="Hide progress bars.")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
@click.option("-v", "--verbose", count=True, help="More logging (-vv for debug).")
def update(result: str, data: str, output: str | None, in_place: bool, overwrite: bool, **o: Any) -> None:
    """Add the items in DATA to the saved RESULT: new themes become new clusters, every old id stays."""
    setup_logging(o["verbose"], o["quiet"])
    with user_errors():
        dest = _destination(result, output, in_place, overwrite)
        import hercules
        from hercules.data import read_path
        from hercules.pipeline.update_report import changes_text

        model = hercules.load(result)
        params = {k: o[k] for k in ("text_column", "id_column") if o[k]}
        model.set_params(**params, missing="drop" if o["drop_missing"] else "raise", progress=not o["no_progress"])
        if o["llm"] != "none":
            model.set_params(llm=llm_provider(o["llm"], o["llm_base_url"]))
        _labeler_note(model, o["llm"])
        options = {k: o[k] for k in _UPDATE_OPTIONS if o[k] is not None}
        model.update(read_path(data), embeddings=read_vectors(o["embeddings_path"]), **options)
        model.save(
            dest, embeddings=None if o["save_embeddings"] == "none" else o["save_embeddings"], overwrite=overwrite or in_place
        )
    click.echo(changes_text(model.changes_), nl=False)
    click.echo(f"\nSaved to {dest}/  ({len(model.dataset_):,} items, levels {model.levels_})", err=True)
