"""clientcast: the command line and the typed settings."""

__version__ = "0.1.0"
