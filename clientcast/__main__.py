"""Allow ``python -m clientcast``."""

from clientcast.cli import app

app()
