import pandas as pd
from click.testing import CliRunner

from hercules.cli.main import cli


def test_run_show_membership_predict(tmp_path, corpus):
    data = tmp_path / "data.csv"
    corpus.to_csv(data, index=False)
    out = tmp_path / "res"
    r = CliRunner().invoke(
        cli,
        [
            "run",
            str(data),
            "--text-column",
            "text",
            "--levels",
            "12,4",
            "--embedder",
            "hashing:256",
            "-o",
            str(out),
            "--no-progress",
            "-q",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "L2-0" in r.output and (out / "hercules.json").exists()

    r = CliRunner().invoke(cli, ["show", str(out), "--items", "1"])
    assert r.exit_code == 0 and r.output.count("L2-") == 4

    r = CliRunner().invoke(cli, ["show", str(out), "--descriptions"])
    assert r.exit_code == 0 and r.output.count('"id"') == 16

    mem = tmp_path / "m.csv"
    r = CliRunner().invoke(cli, ["membership", str(out), "-o", str(mem)])
    assert r.exit_code == 0
    df = pd.read_csv(mem)
    assert len(df) == len(corpus) and {"L1_cluster_id", "L2_cluster_title", "topic"} <= set(df.columns)

    new = tmp_path / "new.csv"
    pd.DataFrame({"text": ["rocket to mars", "bake a cake"]}).to_csv(new, index=False)
    pred = tmp_path / "p.csv"
    r = CliRunner().invoke(cli, ["predict", str(out), str(new), "-o", str(pred)])
    assert r.exit_code == 0, r.output
    assert len(pd.read_csv(pred)) == 2


def test_clear_errors_not_tracebacks(tmp_path):
    data = tmp_path / "d.csv"
    pd.DataFrame({"text": ["a b", "c d", "e f"]}).to_csv(data, index=False)
    r = CliRunner().invoke(cli, ["run", str(data), "--levels", "10", "--embedder", "hashing", "-o", str(tmp_path / "o"), "-q"])
    assert r.exit_code != 0 and "only 3 items" in r.output
    r = CliRunner().invoke(cli, ["run", str(data), "--levels", "ten", "-q"])
    assert r.exit_code != 0 and "whole numbers" in r.output


def test_numeric_and_image_folder(tmp_path):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"]).to_parquet(tmp_path / "n.parquet")
    r = CliRunner().invoke(
        cli, ["run", str(tmp_path / "n.parquet"), "--levels", "6,2", "-o", str(tmp_path / "on"), "-q", "--no-progress"]
    )
    assert r.exit_code == 0, r.output
    img = tmp_path / "imgs"
    img.mkdir()
    for i in range(12):
        Image.new("RGB", (16, 16), (i * 20, 255 - i * 20, 0)).save(img / f"{i}.png")
    r = CliRunner().invoke(cli, ["run", str(img), "--levels", "3", "-o", str(tmp_path / "oi"), "-q", "--no-progress"])
    assert r.exit_code == 0, r.output
    assert "red" in r.output.lower() or "green" in r.output.lower()  # titles from what the images show


def test_evaluate_command(tmp_path, corpus):
    data = tmp_path / "data.csv"
    corpus.to_csv(data, index=False)
    out = tmp_path / "res"
    r = CliRunner().invoke(
        cli, ["run", str(data), "--levels", "12,4", "--embedder", "hashing:256", "-o", str(out), "-q", "--no-progress"]
    )
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli, ["evaluate", str(out), "--labels-column", "topic", "-o", str(tmp_path / "e.csv")])
    assert r.exit_code == 0, r.output
    assert "ari" in r.output and "items_silhouette" in r.output
    ev = pd.read_csv(tmp_path / "e.csv")
    assert list(ev.level) == [1, 2] and ev.ari.iloc[1] > 0.5
    r = CliRunner().invoke(cli, ["evaluate", str(out), "--labels-column", "nope"])
    assert r.exit_code != 0 and "nope" in r.output


def test_llm_options_and_dry_run(tmp_path, corpus):
    from tests.fault_server import FaultServer

    data = tmp_path / "data.csv"
    corpus.to_csv(data, index=False)
    base = ["run", str(data), "--levels", "12,4", "--embedder", "hashing:256", "-q", "--no-progress"]
    with FaultServer() as srv:
        r = CliRunner().invoke(
            cli, [*base, "--llm", "vllm:test-model", "--llm-base-url", srv.url, "--dry-run", "-o", str(tmp_path / "d")]
        )
        assert r.exit_code == 0, r.output
        assert "Nothing was sent" in r.output and srv.requests == []
        log = tmp_path / "prompts.jsonl"
        r = CliRunner().invoke(
            cli,
            [*base, "--llm", "vllm:test-model", "--llm-base-url", srv.url, "--llm-log", str(log), "--no-llm-verify"]
            + ["--llm-batch-size", "8"]  # 12 level-1 clusters in 2 prompts, then 1 for level 2
            + ["-o", str(tmp_path / "o")],
        )
        assert r.exit_code == 0, r.output
        assert "Title L2-0" in r.output and len(srv.requests) == 3
        assert len(log.read_text().splitlines()) == 3
    r = CliRunner().invoke(cli, [*base, "--llm", "openai", "-o", str(tmp_path / "x")])
    assert r.exit_code != 0 and "which model" in r.output


def test_missing_local_model_is_a_clear_error(tmp_path, corpus):
    data = tmp_path / "data.csv"
    corpus.to_csv(data, index=False)
    r = CliRunner().invoke(
        cli,
        [
            "run",
            str(data),
            "--levels",
            "4",
            "--embedder",
            "hashing:64",
            "--llm",
            "llamacpp:/nope/model.gguf",
            "-o",
            str(tmp_path / "o"),
            "-q",
            "--no-progress",
        ],
    )
    assert r.exit_code != 0 and "does not exist" in r.output and "Traceback" not in r.output


def test_llm_flags_reach_llm_options():
    from hercules.cli.run import _llm_options

    base = {"llm_batch_size": 4, "llm_concurrency": None, "llm_log": None, "llm_timeout": None, "llm_max_wait": None}
    base |= {"llm_verify": False, "llm_candidates": 3}
    expected = {"batch_size": 4, "concurrency": None, "log_path": None, "verify": False, "candidates": 3}
    assert _llm_options(base) == expected
    assert "batch_size" not in _llm_options({**base, "llm_batch_size": None})  # the labeler's default applies
    assert _llm_options({**base, "llm_timeout": 30.0, "llm_max_wait": 5.0})["timeout"] == 30.0
    assert _llm_options({**base, "llm_max_wait": 5.0})["max_wait"] == 5.0
    opts = _llm_options({**base, "llm_repair_limit": 0.0, "llm_grouping": "neighbours"})
    assert opts["repair_limit"] == 0.0 and opts["grouping"] == "neighbours"  # 0.0 is a value, not "unset"
    assert "repair_limit" not in _llm_options({**base, "llm_repair_limit": None})


def test_llm_title_flags_are_validated_and_reach_the_labeler(tmp_path):
    from click.testing import CliRunner

    from hercules.cli.main import cli
    from hercules.cli.run import _llm_options
    from hercules.labeling.llm import LLMLabelerOptions

    r = CliRunner().invoke(cli, ["run", str(tmp_path / "x.csv"), "--llm-repair-limit", "1.5"])
    assert r.exit_code != 0 and "--llm-repair-limit" in r.output
    base = {k: None for k in ("llm_batch_size", "llm_concurrency", "llm_log", "llm_timeout", "llm_max_wait")}
    flags = {**base, "llm_verify": True, "llm_candidates": 1, "llm_repair_limit": 0.25, "llm_grouping": "neighbours"}
    parsed = LLMLabelerOptions.parse(_llm_options(flags))  # what the labeler is built from
    assert (parsed.repair_limit, parsed.grouping) == (0.25, "neighbours")
    assert LLMLabelerOptions.parse(_llm_options({**flags, "llm_anchor": False})).anchor is False  # --no-llm-anchor
    assert "anchor" not in _llm_options({**flags, "llm_anchor": None})  # unset: the labeler's default
    assert LLMLabelerOptions.parse(_llm_options({**flags, "llm_examples": False})).examples is False  # --no-llm-examples


def test_user_errors_keep_bugs_as_tracebacks():
    from pathlib import Path

    import click
    import numpy as np
    import pytest

    from hercules.cli.common import one_line, user_errors
    from hercules.data import InputError

    with pytest.raises(click.ClickException, match="bad input"), user_errors():
        raise InputError("bad\n input")
    with pytest.raises(click.ClickException, match="nope.txt: No such file"), user_errors():
        Path("/nonexistent-dir/nope.txt").read_text()
    with pytest.raises(ValueError), user_errors():  # raised inside numpy, not by hercules: a bug, not a user error
        np.zeros(3).reshape(2, 2)
    assert one_line("pass missing='drop' (CLI: --drop-missing) to skip") == "pass --drop-missing to skip"
    assert one_line("use --overwrite (overwrite=True) to\n replace it") == "use --overwrite to replace it"
    assert one_line("at most 59) or levels='auto'") == "at most 59) or --levels auto"


def test_help_imports_nothing_heavy():
    """``hercules --help`` must answer at once: the CLI modules import click, not numpy/pandas/the estimator."""
    import subprocess
    import sys

    code = (
        "import sys; import hercules.cli.main as m\n"
        "heavy = [n for n in ('numpy', 'pandas', 'sklearn', 'scipy', 'hercules.estimator') if n in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"imported at start-up: {out}"
    r = subprocess.run([sys.executable, "-m", "hercules.cli.main", "run", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "--overwrite" in r.stdout and "--llm-timeout" in r.stdout and "--llm-max-wait" in r.stdout


def test_overwrite_replaces_a_result_and_keeps_the_users_files(tmp_path, corpus):
    data = tmp_path / "data.csv"
    corpus.to_csv(data, index=False)
    out = tmp_path / "res"
    args = ["run", str(data), "--levels", "12,4", "--embedder", "hashing:64", "-o", str(out), "-q", "--no-progress"]
    assert CliRunner().invoke(cli, args).exit_code == 0
    (out / "notes.txt").write_text("mine")
    r = CliRunner().invoke(cli, [*args[:3], "6,2", *args[4:]])
    assert r.exit_code != 0 and "use --overwrite to replace it" in r.output
    assert "L2-3" in CliRunner().invoke(cli, ["show", str(out)]).output  # the old result, untouched
    r = CliRunner().invoke(cli, [*args[:3], "6,2", *args[4:], "--overwrite"])
    assert r.exit_code == 0, r.output
    assert (out / "notes.txt").read_text() == "mine"
    shown = CliRunner().invoke(cli, ["show", str(out)]).output
    assert "L2-1" in shown and "L2-3" not in shown


def test_retry_after_is_capped_by_llm_max_wait(tmp_path, corpus):
    """A server asking for an hour's pause must not stall the run: --llm-max-wait caps the wait."""
    import subprocess
    import sys
    import time

    from tests.fault_server import FaultServer

    data = tmp_path / "data.csv"
    corpus.to_csv(data, index=False)
    with FaultServer(script=["429-hour"]) as srv:
        args = [
            "run",
            str(data),
            "--levels",
            "12,4",
            "--embedder",
            "hashing:64",
            "-o",
            str(tmp_path / "o"),
            "-q",
            "--no-progress",
        ]
        args += ["--llm", "vllm:max-wait-model", "--llm-base-url", srv.url, "--llm-max-wait", "0.5", "--llm-timeout", "20"]
        t0 = time.monotonic()
        r = subprocess.run([sys.executable, "-m", "hercules.cli.main", *args], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - t0 < 60 and "Title L2-0" in r.stdout


def test_every_command_is_on_the_main_group():
    r = CliRunner().invoke(cli, ["--help"])
    assert r.exit_code == 0
    for name in ("run", "update", "show", "membership", "predict", "evaluate", "export", "plot", "app"):
        assert f"  {name} " in r.output, name
    r = CliRunner().invoke(cli, ["update", "--help"])
    assert r.exit_code == 0 and "--in-place" in r.output
