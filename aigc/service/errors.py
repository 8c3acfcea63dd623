"""The one error type the service shows to people as it is (torch-free, so every layer above can catch it)."""

from __future__ import annotations


class StudioError(ValueError):
    """A user-facing problem: the message is meant to be shown on the page, in the API and in the CLI as it is."""
