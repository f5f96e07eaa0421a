"""The ``hercules`` command line: run, show, predict, membership."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click
import numpy as np

from hercules.data.dataset import InputError
from hercules.embeddings.base import EmbeddingError
from hercules.llm.base import LLMError


def _levels(value: str) -> list[int] | str:
    if value.strip().lower() == "auto":
        return "auto"
    try:
        return [int(v) for v in value.replace(" ", "").split(",") if v]
    except ValueError:
        raise click.BadParameter("use comma-separated integers, bottom-up (e.g. 100,20,5), or 'auto'") from None


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("sentence_transformers", "transformers", "httpx", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _llm_provider(spec: str, base_url: str | None):
    from hercules.llm import get_llm

    try:
        return get_llm(spec, base_url=base_url) if base_url else get_llm(spec)
    except (ValueError, RuntimeError) as e:
        raise click.ClickException(str(e)) from None


def _read(data: str):
    from hercules.data import read_path

    return read_path(data)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="hercules-cluster", prog_name="hercules")
def cli() -> None:
    """Turn texts, images or numeric records into a hierarchy of titled, described clusters.

    \b
    Quick start:
      hercules run examples/data/banking77_test.csv --text-column text -o results/banking77
      hercules show results/banking77
    """


@cli.command()
@click.argument("data", type=click.Path(exists=True))
@click.option("-o", "--output", type=click.Path(), default="hercules-result", show_default=True, help="Result folder to write.")
@click.option(
    "--levels", "levels", default="auto", show_default=True, help="Clusters per level, bottom-up (e.g. 100,20,5), or 'auto'."
)
@click.option("--text-column", help="Column holding the text (or image paths). Default: detected.")
@click.option("--id-column", help="Column holding unique item ids. Default: row number.")
@click.option("--numeric-columns", help="Comma-separated numeric columns to cluster (numeric data).")
@click.option("--numeric-metadata", type=click.Path(exists=True), help="JSON file: {column: {name, unit, description}}.")
@click.option("--modality", type=click.Choice(["auto", "text", "numeric", "image"]), default="auto", show_default=True)
@click.option(
    "--representation",
    type=click.Choice(["direct", "description"]),
    default="direct",
    show_default=True,
    help="Cluster upper levels by vectors (direct) or by embedded descriptions.",
)
@click.option(
    "--embedder", default="auto", show_default=True, help="Text embedder: auto, minilm, wordllama, hashing, st:<folder>."
)
@click.option(
    "--embeddings",
    "embeddings_path",
    type=click.Path(exists=True),
    help="Precomputed embeddings (.npy, one row per item) instead of the embedder.",
)
@click.option(
    "--llm",
    "llm",
    default="none",
    show_default=True,
    help="Who writes titles: none (keywords), local (embedded Qwen2.5 1.5B), llamacpp:<model|file.gguf>, "
    "openai:<model>, gemini:<model>, ollama:<model>, vllm:<model>, lmstudio:<model>, llamacpp-server:<model>.",
)
@click.option("--llm-base-url", help="Base URL of an OpenAI-compatible server (overrides the preset).")
@click.option("--llm-concurrency", type=int, help="Prompts in flight (default: the provider's).")
@click.option("--llm-batch-size", type=int, default=8, show_default=True, help="Clusters per prompt at most.")
@click.option("--llm-log", type=click.Path(), help="Write every prompt and response to this JSONL file.")
@click.option("--dry-run", is_flag=True, help="Cluster, then report the LLM calls and tokens labelling would cost; no LLM calls.")
@click.option("--unweighted", is_flag=True, help="Paper behaviour: cluster child centroids without size weights.")
@click.option("--resampling/--no-resampling", default=False, show_default=True, help="Vo et al. resampling refinement.")
@click.option("--resampling-iterations", type=int, default=10, show_default=True)
@click.option("--resampling-points", type=int, default=None, help="Core points per cluster (default: half the mean size).")
@click.option("--topic-seed", help="A theme the labels should orient towards.")
@click.option("--drop-missing", is_flag=True, help="Skip empty texts / NaN rows / unreadable images instead of failing.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("--threads", type=int, default=None, help="BLAS threads for clustering (default: library default).")
@click.option("--save-embeddings", type=click.Choice(["float16", "float32", "none"]), default="float16", show_default=True)
@click.option("--depth", type=int, default=2, show_default=True, help="Levels of the tree to print.")
@click.option("--no-progress", is_flag=True, help="Hide progress bars.")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
@click.option("-v", "--verbose", count=True, help="More logging (-vv for debug).")
def run(
    data,
    output,
    levels,
    text_column,
    id_column,
    numeric_columns,
    numeric_metadata,
    modality,
    representation,
    embedder,
    embeddings_path,
    llm,
    llm_base_url,
    llm_concurrency,
    llm_batch_size,
    llm_log,
    dry_run,
    unweighted,
    resampling,
    resampling_iterations,
    resampling_points,
    topic_seed,
    drop_missing,
    seed,
    threads,
    save_embeddings,
    depth,
    no_progress,
    quiet,
    verbose,
) -> None:
    """Cluster DATA (CSV, TSV, JSONL, JSON, Parquet, TXT or a folder of images) and save the result."""
    _setup_logging(verbose, quiet)
    from hercules import Hercules

    meta = json.loads(Path(numeric_metadata).read_text()) if numeric_metadata else None
    llm_spec = None if llm == "none" or dry_run else _llm_provider(llm, llm_base_url)
    llm_options = {"batch_size": llm_batch_size, "concurrency": llm_concurrency, "log_path": llm_log}
    model = Hercules(
        _levels(levels),
        llm=llm_spec,
        llm_options=llm_options,
        representation=representation,
        embedder=embedder,
        weighted=not unweighted,
        resampling=resampling,
        resampling_iterations=resampling_iterations,
        resampling_points_per_cluster=resampling_points,
        topic_seed=topic_seed,
        modality=modality,
        text_column=text_column,
        id_column=id_column,
        numeric_columns=numeric_columns.split(",") if numeric_columns else None,
        numeric_metadata=meta,
        missing="drop" if drop_missing else "raise",
        random_state=seed,
        n_threads=threads,
        progress=not no_progress,
    )
    try:
        frame = _read(data)
        if frame.columns.tolist() == ["path"] and modality in ("auto", "image"):
            model.set_params(text_column="path", modality="image")
        emb = np.load(embeddings_path, allow_pickle=False) if embeddings_path else None
        model.fit(frame, embeddings=emb)
    except (InputError, LLMError, EmbeddingError) as e:
        raise click.ClickException(str(e)) from None
    if dry_run:
        est = model.llm_cost_estimate(_llm_provider(llm if llm != "none" else "fake", llm_base_url), **llm_options)
        click.echo(est.to_string())
        click.echo(
            f"\nTotal: {int(est.calls.sum())} calls, ~{int(est.prompt_tokens.sum()):,} prompt tokens, "
            f"<= {int(est.max_completion_tokens.sum()):,} completion tokens. Nothing was sent."
        )
        return
    model.save(output, embeddings=None if save_embeddings == "none" else save_embeddings)
    click.echo(model.tree_text(max_depth=depth, max_children=8))
    for st in model.llm_stats_:
        click.echo(
            f"LLM level {st['level']}: {st['clusters']} clusters, {st['calls']} calls ({st['cache_hits']} cached), "
            f"{st['prompt_tokens']:,}+{st['completion_tokens']:,} tokens, {st['failed_clusters']} kept keyword titles, "
            f"{st['wall_s']:.1f} s",
            err=True,
        )
    t = model.timings_
    click.echo(
        f"\nSaved to {output}/  ({len(model.dataset_):,} items, levels {model.levels_}, "
        f"{t['total']:.1f} s: embed {t['embed']:.1f} s, cluster {t['cluster']:.1f} s, label {t['label']:.1f} s)",
        err=True,
    )


@cli.command()
@click.argument("result", type=click.Path(exists=True, file_okay=False))
@click.option("--depth", type=int, default=None, help="Levels to show (default: all).")
@click.option("--max-children", type=int, default=10, show_default=True, help="Children shown per cluster.")
@click.option("--items", type=int, default=0, show_default=True, help="Example items shown under each level-1 cluster.")
@click.option("--descriptions", is_flag=True, help="Print every cluster's description too (JSON lines).")
def show(result, depth, max_children, items, descriptions) -> None:
    """Print the cluster tree of a saved RESULT."""
    import hercules

    model = hercules.load(result)
    if descriptions:
        for t in range(model.n_levels_, 0, -1):
            for c in model.clusters(t):
                parent = c.parent.id if c.parent else None
                click.echo(
                    json.dumps(
                        {"id": c.id, "size": c.size, "parent": parent, "title": c.title, "description": c.description},
                        ensure_ascii=False,
                    )
                )
        return
    click.echo(model.tree_text(max_depth=depth, max_children=max_children, show_items=items), nl=False)


@cli.command()
@click.argument("result", type=click.Path(exists=True, file_okay=False))
@click.option("-o", "--output", type=click.Path(), help="CSV to write (default: standard output).")
def membership(result, output) -> None:
    """Write one row per item of RESULT: cluster id and title at every level."""
    import hercules

    df = hercules.load(result).membership()
    df.to_csv(output if output else sys.stdout)


@cli.command()
@click.argument("result", type=click.Path(exists=True, file_okay=False))
@click.argument("data", type=click.Path(exists=True))
@click.option("--text-column", help="Column holding the text (default: the one used for fitting, else detected).")
@click.option("--embeddings", "embeddings_path", type=click.Path(exists=True), help="Precomputed embeddings (.npy).")
@click.option("-o", "--output", type=click.Path(), help="CSV to write (default: standard output).")
def predict(result, data, text_column, embeddings_path, output) -> None:
    """Route the new items in DATA down every level of a saved RESULT."""
    _setup_logging(0, True)
    import hercules

    model = hercules.load(result)
    if text_column:
        model.set_params(text_column=text_column)
    try:
        emb = np.load(embeddings_path, allow_pickle=False) if embeddings_path else None
        df = model.predict_membership(_read(data), embeddings=emb)
    except InputError as e:
        raise click.ClickException(str(e)) from None
    df.to_csv(output if output else sys.stdout, index=False)


@cli.command()
@click.argument("result", type=click.Path(exists=True, file_okay=False))
@click.option("--labels-column", help="Metadata column with ground-truth labels (external metrics).")
@click.option("--level", type=int, default=None, help="Evaluate one level (default: all).")
@click.option("--truth-levels", help="Comma-separated metadata columns forming a truth hierarchy (e.g. domain,intent).")
@click.option("--class-names", is_flag=True, help="Score titles against the label names (labels like card_arrival).")
@click.option("--sample-size", type=int, default=5000, show_default=True, help="Items sampled for the silhouette.")
@click.option("-o", "--output", type=click.Path(), help="Write the metrics as JSON (one level) or CSV (all levels).")
def evaluate(result, labels_column, level, truth_levels, class_names, sample_size, output) -> None:
    """Quality metrics of a saved RESULT, per level (internal, external, hierarchy, labels)."""
    _setup_logging(0, True)
    import pandas as pd

    import hercules

    model = hercules.load(result)
    truth = {c: c for c in truth_levels.split(",")} if truth_levels else None
    try:
        res = model.evaluate(level, labels_column, truth_levels=truth, class_names=class_names or None, sample_size=sample_size)
    except (KeyError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    frame = pd.DataFrame([res]).set_index("level") if isinstance(res, dict) else res
    if output:
        if output.endswith(".json"):
            Path(output).write_text(json.dumps(frame.reset_index().to_dict(orient="records"), indent=1))
        else:
            frame.to_csv(output)
    with pd.option_context("display.max_columns", None, "display.width", 200, "display.float_format", "{:.4f}".format):
        click.echo(frame.T.to_string())


@cli.command()
@click.argument("result", required=False, type=click.Path(exists=True, file_okay=False))
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Interface to bind (other hosts can reach 0.0.0.0: no login)."
)
@click.option("--port", type=int, default=8050, show_default=True)
@click.option("--data-dir", type=click.Path(file_okay=False), help="Where uploads and results live (default: the cache dir).")
def app(result, host, port, data_dir) -> None:
    """Open the web app (optionally with a saved RESULT) to upload, run, explore and download."""
    _setup_logging(0, False)
    try:
        from hercules.app import serve
    except ImportError:
        raise click.ClickException("the app needs Dash: pip install 'hercules-cluster[app]'") from None
    from hercules.common.paths import default_cache_dir

    click.echo(f"hercules app on http://{host}:{port}/", err=True)
    serve(data_dir or default_cache_dir() / "app", result, host=host, port=port)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
