"""The web app: ``hercules app`` (Dash + Plotly). Needs ``pip install 'hercules-cluster[app]'``."""

from hercules.app.main import create_app, serve

__all__ = ["create_app", "serve"]
