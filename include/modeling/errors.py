"""Named failures of the shared modeling plumbing."""

from __future__ import annotations


class ModelReadBackFailed(RuntimeError):
    """The logged model, loaded back through MLflow, does not predict what the trained model
    predicted (a serialization or serving-forward mismatch); nothing was registered."""
