"""The ``hercules`` command line (entry point: :func:`hercules.cli.main.main`)."""
