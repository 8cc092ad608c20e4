"""Named outcomes of the registry gate that stop a promotion."""

from __future__ import annotations

from typing import Any


class PromotionRejected(Exception):
    """The challenger did not pass the gate; the champion alias was left untouched (C1).

    ``result`` is the gate's JSON-able result (``comparison`` holds champion vs challenger,
    overall and per slice, and every check); alert emails are built from it. The outcome is
    deterministic: retrying the task gives the same answer, so do not retry it.
    """

    def __init__(self, result: dict[str, Any]) -> None:
        self.result = result
        self.comparison: dict[str, Any] = result.get("comparison", {})
        super().__init__(
            f"{result.get('model')} v{result.get('version')} was not promoted: "
            f"{result.get('reason')}. Champion unchanged "
            f"(v{result.get('champion_version')}). Report: {result.get('report_uri')}"
        )


class PromotionLockTimeout(TimeoutError):
    """Another promotion of the same model held the lock for longer than the timeout."""


class ThresholdMissing(LookupError):
    """A registered version carries no usable decision threshold (``serving.threshold``):
    it was registered before the gate stored thresholds. It cannot be deployed as is;
    retrain, or deploy a newer version."""


class ModelVersionNotFound(LookupError):
    """The registry has no such version (or no version behind that alias) of the model."""


class VersionRetired(LookupError):
    """The version was retired (``lifecycle.retired=true``): it may not become champion or be
    deployed again. Pick another version; the retirement tags say who retired it and why."""


class RetirementRefused(RuntimeError):
    """The version asked to retire is the champion or serves production; the message says
    what to do first."""
