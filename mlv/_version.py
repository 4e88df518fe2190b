"""The version of mlv, in a module of its own so no module inside the package imports the package root."""

__version__ = "0.1.0"
