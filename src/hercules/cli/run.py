"""``hercules run``: read the data, check every setting and the destination, fit, save, report.

The order is deliberate: everything that can be checked cheaply (levels, embedder spec, LLM
spec, output folder, input file) is checked before the fit, so a typo or a read-only folder
never costs an hour of embedding and LLM calls.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from hercules.cli.common import (
    library_rule,
    llm_provider,
    one_line,
    parse_levels_option,
    read_vectors,
    setup_logging,
    user_errors,
)

_POSITIVE = click.IntRange(min=1)
_SECONDS = click.FloatRange(min=0, min_open=True)


#: The ``run`` options, kept apart from the command body so each reads on one screen.
_RUN_OPTIONS = [
    click.argument("data", type=click.Path(exists=True)),
    click.option(
        "-o", "--output", type=click.Path(), default="hercules-result", show_default=True, help="Result folder to write."
    ),
    click.option("--overwrite", is_flag=True, help="Replace an existing result in OUTPUT (other files there are kept)."),
    click.option(
        "--levels",
        default="auto",
        show_default=True,
        callback=parse_levels_option,
        help="Clusters per level, bottom-up (e.g. 100,20,5), 'auto', or 'guided' (--guide's pair answers choose level 1).",
    ),
    click.option("--guide", help="A judge that shapes the clusters: llm (the --llm) or labels:COLUMN[:NOISE]."),
    click.option("--guide-triplets", type=click.IntRange(min=0), default=1024, show_default=True, help="Triplet questions."),
    click.option("--guide-pairs", type=click.IntRange(min=0), default=1024, show_default=True, help="Pair questions (guided)."),
    click.option(
        "--guide-both-orders/--guide-one-order",
        "llm_judge_both_orders",
        default=True,
        show_default=True,
        help="--guide llm: ask each triplet in both candidate orders, kept only when the answers agree (twice the calls).",
    ),
    click.option(
        "--guide-tune/--no-guide-tune",
        default=True,
        show_default=True,
        help="Fine-tune the text embedder (MiniLM) on the answers before the linear adapter.",
    ),
    click.option(
        "--guide-links/--no-guide-links",
        default=True,
        show_default=True,
        help="Join each answered item to the closer candidate in the UMAP space's neighbour graph.",
    ),
    click.option("--text-column", help="Column holding the text (or image paths). Default: detected."),
    click.option("--id-column", help="Column holding unique item ids. Default: row number."),
    click.option("--numeric-columns", help="Comma-separated numeric columns to cluster (numeric data)."),
    click.option(
        "--numeric-metadata",
        type=click.Path(exists=True, dir_okay=False),
        help="JSON file: {column: {name, unit, description}}.",
    ),
    click.option("--modality", type=click.Choice(["auto", "text", "numeric", "image"]), default="auto", show_default=True),
    click.option(
        "--representation",
        type=click.Choice(["direct", "description"]),
        default="direct",
        show_default=True,
        help="Cluster upper levels by vectors (direct) or by embedded descriptions.",
    ),
    click.option(
        "--embedder",
        default="auto",
        show_default=True,
        help="Text embedder: auto, minilm, wordllama, hashing[:dim], st:<folder>.",
    ),
    click.option(
        "--embeddings",
        "embeddings_path",
        type=click.Path(exists=True, dir_okay=False),
        help="Precomputed embeddings (.npy, one row per item) instead of the embedder.",
    ),
    click.option(
        "--llm",
        default="none",
        show_default=True,
        help="Who writes titles: none (keywords), local (embedded Qwen2.5 1.5B; C++ server if built, else in-process), "
        "local-server:<model>[@SLOTS], llamacpp:<model|file.gguf>, "
        "openai:<model>, gemini:<model>, ollama:<model>, vllm:<model>, lmstudio:<model>, llamacpp-server:<model>.",
    ),
    click.option("--llm-base-url", help="Base URL of an OpenAI-compatible server (overrides the preset)."),
    click.option("--llm-concurrency", type=_POSITIVE, help="Prompts in flight (default: the provider's)."),
    click.option("--llm-batch-size", type=_POSITIVE, help="Clusters per prompt at most (default: the labeler's, 4)."),
    click.option("--llm-timeout", type=_SECONDS, help="Seconds one LLM call may take (default: the provider's)."),
    click.option("--llm-max-wait", type=_SECONDS, help="Longest wait a server's Retry-After may ask for (seconds)."),
    click.option("--llm-rpm", type=_SECONDS, help="Rate limit: LLM requests per minute for the whole run."),
    click.option("--llm-tpm", type=_SECONDS, help="Rate limit: LLM prompt + completion tokens per minute."),
    click.option("--llm-log", type=click.Path(dir_okay=False), help="Write every prompt and response to this JSONL file."),
    click.option(
        "--llm-verify/--no-llm-verify",
        default=True,
        show_default=True,
        help="Check that each LLM title picks out its own cluster; re-ask (or keep the keyword title) when it does not.",
    ),
    click.option(
        "--llm-candidates",
        type=click.IntRange(1, 5),
        help="Candidate titles per cluster in one answer; the one that best identifies its cluster wins (default: the "
        "labeler's, 3).",
    ),
    click.option(
        "--llm-repair-limit",
        type=click.FloatRange(0, 1),
        help="Share of a level's clusters asked again at most when their title fails the check, worst first; the rest "
        "keep the better of their LLM and keyword titles (default: the labeler's, 0.1).",
    ),
    click.option(
        "--llm-anchor/--no-llm-anchor",
        default=None,
        help="Ask each first-pass title to contain its cluster's most identifying keyword phrase (default: the labeler's, on).",
    ),
    click.option(
        "--llm-examples/--no-llm-examples",
        default=None,
        help="Show a worked example (another domain's items turned into a title) in the prompts of text data "
        "(default: the labeler's, off: fewer copied items as titles, but titles that pick out their cluster less often).",
    ),
    click.option(
        "--llm-grouping",
        type=click.Choice(["principal", "neighbours"]),
        help="Which clusters share a prompt: chunks along the first principal axis (default), or nearest neighbours "
        "asked to tell them apart (worse with the 0.5B model: see docs/BENCHMARKS.md, Title quality).",
    ),
    click.option(
        "--dry-run", is_flag=True, help="Cluster, then report the LLM calls and tokens labelling would cost; no LLM calls."
    ),
    click.option(
        "--space",
        type=click.Choice(["auto", "umap", "umap-cosine", "none"]),
        default="auto",
        show_default=True,
        help="Where levels are clustered: a 5-d UMAP of the vectors (umap-cosine: neighbours by angle even for rows "
        "that are not unit length), or the vectors themselves (auto: UMAP if installed).",
    ),
    click.option(
        "--coarse",
        default="auto",
        show_default=True,
        callback=library_rule("hercules.pipeline.coarse:parse_coarse", keep_value=True),
        help="How levels >= 3 (auto, graph: >= 2) are grouped in the UMAP space: k-means there (space), Ward of the level-0 means (ward), "
        "by UMAP's neighbour graph (connectivity), or whichever of space and connectivity has the higher modularity on "
        "UMAP's graph (auto), or auto from level 2 with more k-means candidates judged the same way (graph); ':N' starts "
        "at level N (e.g. connectivity:2). See docs/BENCHMARKS.md.",
    ),
    click.option("--unweighted", is_flag=True, help="Paper behaviour: cluster child centroids without size weights."),
    click.option("--resampling/--no-resampling", default=False, show_default=True, help="Vo et al. resampling refinement."),
    click.option("--resampling-iterations", type=_POSITIVE, default=10, show_default=True),
    click.option(
        "--resampling-points", type=_POSITIVE, default=None, help="Core points per cluster (default: half the mean size)."
    ),
    click.option("--topic-seed", help="A theme the labels should orient towards."),
    click.option("--drop-missing", is_flag=True, help="Skip empty texts / NaN rows / unreadable images instead of failing."),
    click.option("--seed", type=int, default=0, show_default=True, help="Random seed."),
    click.option(
        "--engine",
        type=click.Choice(["local", "ray"]),
        default="local",
        show_default=True,
        help="Where embedding and the level-1 pass run: this process or a Ray cluster (pip install 'hercules-cluster[ray]').",
    ),
    click.option("--ray-address", help="Ray cluster to use with --engine ray (default: $RAY_ADDRESS, else a local Ray)."),
    click.option("--threads", type=_POSITIVE, default=None, help="BLAS threads for clustering (default: library default)."),
    click.option("--save-embeddings", type=click.Choice(["float16", "float32", "none"]), default="float16", show_default=True),
    click.option("--depth", type=click.IntRange(min=0), default=2, show_default=True, help="Levels of the tree to print."),
    click.option("--no-progress", is_flag=True, help="Hide progress bars."),
    click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors."),
    click.option("-v", "--verbose", count=True, help="More logging (-vv for debug)."),
]


def _options(f: Any) -> Any:
    """Apply :data:`_RUN_OPTIONS` to the command function."""
    for option in reversed(_RUN_OPTIONS):
        f = option(f)
    return f


def _llm_options(o: dict[str, Any]) -> dict[str, Any]:
    """``llm_options`` from the flags; unset flags are left out so the provider's defaults apply."""
    opts = {
        "concurrency": o["llm_concurrency"],
        "log_path": o["llm_log"],
        "verify": o["llm_verify"],
    }
    keys = (
        "batch_size",
        "timeout",
        "max_wait",
        "repair_limit",
        "grouping",
        "anchor",
        "examples",
        "candidates",
        "judge_both_orders",
    )
    for key in keys:
        if o.get(f"llm_{key}") is not None:
            opts[key] = o[f"llm_{key}"]
    for key, flag in (("requests_per_minute", "llm_rpm"), ("tokens_per_minute", "llm_tpm")):
        if o.get(flag) is not None:
            opts[key] = o[flag]
    return opts


def _numeric_metadata(path: str | None) -> dict | None:
    """The ``--numeric-metadata`` JSON: an object mapping columns to {name, unit, description}."""
    if path is None:
        return None
    from hercules.data.dataset import InputError

    try:
        meta = json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path} is not valid JSON ({e})") from None
    if not isinstance(meta, dict) or not all(isinstance(v, dict) for v in meta.values()):
        raise InputError(f"{path} must be a JSON object of objects: {{column: {{name, unit, description}}}}")
    return meta


def _check_destination(output: str, overwrite: bool) -> None:
    """Refuse an unwritable or occupied output folder before any work is done, naming the flag that helps."""
    from hercules.persistence import DestinationError, check_destination, is_result

    try:
        check_destination(output, overwrite=overwrite)
    except DestinationError as e:
        message = one_line(str(e))
        if not overwrite and "--overwrite" not in message and is_result(Path(output)):
            message += " (pass --overwrite to replace it)"
        raise click.ClickException(message) from None


def _model(o: dict[str, Any], llm: Any) -> Any:
    from hercules import Hercules

    dry_guide = o["dry_run"] and o["guide"] == "llm"  # a dry run asks no question: it counts them
    return Hercules(
        "auto" if dry_guide and o["levels"] == "guided" else o["levels"],
        llm=llm,
        llm_options=_llm_options(o),
        representation=o["representation"],
        embedder=o["embedder"],
        weighted=not o["unweighted"],
        space=o["space"],
        coarse=o["coarse"],
        resampling=o["resampling"],
        resampling_iterations=o["resampling_iterations"],
        resampling_points_per_cluster=o["resampling_points"],
        topic_seed=o["topic_seed"],
        guide=None if dry_guide else o["guide"],
        guide_triplets=o["guide_triplets"],
        guide_pairs=o["guide_pairs"],
        guide_tune=o["guide_tune"],
        guide_links=o["guide_links"],
        modality=o["modality"],
        text_column=o["text_column"],
        id_column=o["id_column"],
        numeric_columns=o["numeric_columns"].split(",") if o["numeric_columns"] else None,
        numeric_metadata=_numeric_metadata(o["numeric_metadata"]),
        missing="drop" if o["drop_missing"] else "raise",
        random_state=o["seed"],
        n_threads=o["threads"],
        progress=not o["no_progress"],
        engine=o["engine"],
        ray_address=o["ray_address"],
    )


def _dry_run_report(model: Any, o: dict[str, Any]) -> None:
    llm = llm_provider(o["llm"] if o["llm"] != "none" else "fake", o["llm_base_url"])
    est = model.llm_cost_estimate(llm, **_llm_options(o))
    click.echo(est.to_string())
    click.echo(
        f"\nTotal: {int(est.calls.sum())} calls, ~{int(est.prompt_tokens.sum()):,} prompt tokens, "
        f"<= {int(est.max_completion_tokens.sum()):,} completion tokens. Nothing was sent."
    )
    if o["guide"] == "llm":
        from hercules.guidance import estimate_tokens

        pairs = o["guide_pairs"] if o["levels"] == "guided" else 0
        both = o["llm_judge_both_orders"]
        g = estimate_tokens(model.dataset_.item_texts(), o["guide_triplets"] + 64, pairs, llm.count_tokens, both)
        click.echo(
            f"Guidance (--guide llm): at most {g['calls']:,} calls ({o['guide_triplets']:,} triplets + 64 control"
            f"{', each asked in both orders' if both else ''}, + {pairs:,} pairs), ~{g['prompt_tokens']:,} prompt tokens,"
            f" <= {g['completion_tokens']:,} completion tokens."
        )


def _report(model: Any, output: str, depth: int) -> None:
    click.echo(model.tree_text(max_depth=depth, max_children=8))
    for st in getattr(model, "llm_stats_", None) or []:
        click.echo(
            f"LLM level {st['level']}: {st['clusters']} clusters, {st['calls']} calls ({st['cache_hits']} cached), "
            f"{st['prompt_tokens']:,}+{st['completion_tokens']:,} tokens, {st['failed_clusters']} kept keyword titles, "
            f"{st['wall_s']:.1f} s",
            err=True,
        )
    g = getattr(model.encoder_, "guidance_", None)
    if g:
        ctl, tri = g.get("control", {}), g.get("triplets", {})
        click.echo(
            f"Guidance by {g['judge']}: control accuracy {ctl.get('accuracy', float('nan')):.0%}, "
            f"{tri.get('answered', 0)}/{tri.get('asked', 0)} triplets answered, adapter "
            f"{'applied' if tri.get('applied') else 'not applied'}" + "".join(f"; {w}" for w in g.get("warnings", [])),
            err=True,
        )
    t = model.timings_
    click.echo(
        f"\nSaved to {output}/  ({len(model.dataset_):,} items, levels {model.levels_}, "
        f"{t['total']:.1f} s: embed {t['embed']:.1f} s, cluster {t['cluster']:.1f} s, label {t['label']:.1f} s)",
        err=True,
    )


@click.command()
@_options
def run(data: str, output: str, **o: Any) -> None:
    """Cluster DATA (CSV, TSV, JSONL, JSON, Parquet, TXT, a folder or a zip of images) and save the result."""
    setup_logging(o["verbose"], o["quiet"])
    with user_errors():
        if o["embedder"] != "auto":
            from hercules.embeddings import get_embedder

            get_embedder(o["embedder"], progress=False)  # a bad spec fails now, not after reading the data
        if not o["dry_run"]:
            _check_destination(output, o["overwrite"])
        llm = None if o["llm"] == "none" or o["dry_run"] else llm_provider(o["llm"], o["llm_base_url"])
        model = _model(o, llm)
        from hercules.data import read_path

        frame = data if o["engine"] == "ray" else read_path(data)  # the Ray engine reads it on the cluster
        if not isinstance(frame, str) and frame.columns.tolist() == ["path"] and o["modality"] in ("auto", "image"):
            model.set_params(text_column="path", modality="image")
        model.fit(frame, embeddings=read_vectors(o["embeddings_path"]))
        if o["dry_run"]:
            _dry_run_report(model, o)
            return
        embeddings = None if o["save_embeddings"] == "none" else o["save_embeddings"]
        model.save(output, embeddings=embeddings, overwrite=o["overwrite"])
    _report(model, output, o["depth"])
