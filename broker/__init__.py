"""Enlace broker: the server that routes and stores envelopes it cannot read."""

__version__ = "0.1.0"
