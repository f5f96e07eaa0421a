"""Commands that read a saved result: show, membership, predict, evaluate, and the web app."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from hercules.cli.common import one_line, read_vectors, setup_logging, user_errors, write_csv

_RESULT = click.Path(exists=True, file_okay=False)


def _load(result: str) -> Any:
    """A saved result; a damaged one is an error naming the file (raised by ``hercules.load``)."""
    import hercules

    return hercules.load(result)


@click.command()
@click.argument("result", type=_RESULT)
@click.option("--depth", type=click.IntRange(min=0), default=None, help="Levels to show (default: all).")
@click.option("--max-children", type=click.IntRange(min=1), default=10, show_default=True, help="Children shown per cluster.")
@click.option(
    "--items", type=click.IntRange(min=0), default=0, show_default=True, help="Example items shown under each level-1 cluster."
)
@click.option("--descriptions", is_flag=True, help="Print every cluster's description too (JSON lines).")
@click.option("--changes", is_flag=True, help="Print what the last `hercules update` changed (new clusters, growth, outliers).")
def show(result: str, depth: int | None, max_children: int, items: int, descriptions: bool, changes: bool) -> None:
    """Print the cluster tree of a saved RESULT."""
    with user_errors():
        model = _load(result)
        if changes:
            from hercules.pipeline.update_report import changes_text

            click.echo(changes_text(model.changes_), nl=False)
            return
        if not descriptions:
            click.echo(model.tree_text(max_depth=depth, max_children=max_children, show_items=items), nl=False)
            return
        for t in range(model.n_levels_, 0, -1):
            for c in model.clusters(t):
                row = {"id": c.id, "size": c.size, "parent": c.parent.id if c.parent else None}
                click.echo(json.dumps({**row, "title": c.title, "description": c.description}, ensure_ascii=False))


@click.command()
@click.argument("result", type=_RESULT)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="CSV to write (default: standard output).")
def membership(result: str, output: str | None) -> None:
    """Write one row per item of RESULT: cluster id and title at every level."""
    with user_errors():
        write_csv(_load(result).membership(), output)


@click.command()
@click.argument("result", type=_RESULT)
@click.argument("data", type=click.Path(exists=True))
@click.option("--text-column", help="Column holding the text (default: the one used for fitting, else detected).")
@click.option(
    "--embeddings", "embeddings_path", type=click.Path(exists=True, dir_okay=False), help="Precomputed embeddings (.npy)."
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="CSV to write (default: standard output).")
def predict(result: str, data: str, text_column: str | None, embeddings_path: str | None, output: str | None) -> None:
    """Route the new items in DATA down every level of a saved RESULT."""
    setup_logging(0, True)
    with user_errors():
        from hercules.data import read_path

        model = _load(result)
        if text_column:
            model.set_params(text_column=text_column)
        df = model.predict_membership(read_path(data), embeddings=read_vectors(embeddings_path))
        write_csv(df, output, index=False)


@click.command()
@click.argument("result", type=_RESULT)
@click.option("--labels-column", help="Metadata column with ground-truth labels (external metrics).")
@click.option("--level", type=click.IntRange(min=1), default=None, help="Evaluate one level (default: all).")
@click.option("--truth-levels", help="Comma-separated metadata columns forming a truth hierarchy (e.g. domain,intent).")
@click.option("--class-names", is_flag=True, help="Score titles against the label names (labels like card_arrival).")
@click.option(
    "--sample-size", type=click.IntRange(min=2), default=5000, show_default=True, help="Items sampled for the silhouette."
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Write the metrics as JSON (one level) or CSV (all levels)."
)
def evaluate(
    result: str,
    labels_column: str | None,
    level: int | None,
    truth_levels: str | None,
    class_names: bool,
    sample_size: int,
    output: str | None,
) -> None:
    """Quality metrics of a saved RESULT, per level (internal, external, hierarchy, labels)."""
    setup_logging(0, True)
    with user_errors():
        import pandas as pd

        model = _load(result)
        truth = {c: c for c in truth_levels.split(",")} if truth_levels else None
        try:
            res = model.evaluate(
                level, labels_column, truth_levels=truth, class_names=class_names or None, sample_size=sample_size
            )
        except (KeyError, ValueError) as e:
            raise click.ClickException(one_line(str(e).strip("'\""))) from None
        frame = pd.DataFrame([res]).set_index("level") if isinstance(res, dict) else res
        if output and output.endswith(".json"):
            Path(output).write_text(json.dumps(frame.reset_index().to_dict(orient="records"), indent=1))
        elif output:
            frame.to_csv(output)
    with pd.option_context("display.max_columns", None, "display.width", 200, "display.float_format", "{:.4f}".format):
        click.echo(frame.T.to_string())


@click.command()
@click.argument("result", required=False, type=_RESULT)
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Interface to bind (other hosts can reach 0.0.0.0: no login)."
)
@click.option("--port", type=click.IntRange(1, 65535), default=8050, show_default=True)
@click.option("--data-dir", type=click.Path(file_okay=False), help="Where uploads and results live (default: the cache dir).")
@click.option(
    "--max-store-gb",
    type=click.FloatRange(0, min_open=True),
    help="Delete the oldest uploads/results when the data dir grows past this size (never a running job).",
)
@click.option("--max-age-days", type=click.FloatRange(0, min_open=True), help="Delete uploads/results older than this.")
@click.option(
    "--llm-choice",
    "llm_choices",
    multiple=True,
    help="An LLM spec the form offers (repeatable; default: none, local, llamacpp:qwen0.5b). Offer paid APIs on purpose only.",
)
@click.option(
    "--embedder-choice",
    "embedder_choices",
    multiple=True,
    help="An embedder spec the form offers (repeatable; default: auto, minilm, wordllama, hashing).",
)
def app(
    result: str | None,
    host: str,
    port: int,
    data_dir: str | None,
    max_store_gb: float | None,
    max_age_days: float | None,
    llm_choices: tuple[str, ...],
    embedder_choices: tuple[str, ...],
) -> None:
    """Open the web app (optionally with a saved RESULT) to upload, run, explore and download.

    Nothing the browser sends can name a file on the server; the form offers only the embedders
    and LLMs listed here."""
    setup_logging(0, False)
    try:
        from hercules.app import serve
    except ImportError:
        raise click.ClickException("the app needs Dash: pip install 'hercules-cluster[app]'") from None
    from hercules.common.paths import default_cache_dir

    click.echo(f"hercules app on http://{host}:{port}/", err=True)
    with user_errors():
        serve(
            data_dir or default_cache_dir() / "app",
            result,
            host=host,
            port=port,
            llm_choices=llm_choices or None,
            embedder_choices=embedder_choices or None,
            max_store_gb=max_store_gb,
            max_age_days=max_age_days,
        )
