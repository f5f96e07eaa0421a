"""The ``hercules`` command line: run, show, membership, predict, evaluate, app, export, plot.

Only click and the standard library are imported at module level (here and in the command
modules), so ``hercules --help`` answers at once; numpy, pandas and the estimator are imported
inside the commands that need them.
"""

from __future__ import annotations

import click

from hercules.cli.results import app, evaluate, membership, predict, show
from hercules.cli.run import run
from hercules.cli.update import update
from hercules.cli.viz import export, plot


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="hercules-cluster", prog_name="hercules")
def cli() -> None:
    """Turn texts, images or numeric records into a hierarchy of titled, described clusters.

    \b
    Quick start:
      hercules run examples/data/banking77_test.csv --text-column text -o results/banking77
      hercules show results/banking77
    """


for _command in (run, update, show, membership, predict, evaluate, app, export, plot):
    cli.add_command(_command)


def main() -> None:
    """Console-script entry point (``hercules``)."""
    cli()


if __name__ == "__main__":
    main()
