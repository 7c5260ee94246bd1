"""The exceptions of the persistence layer.

Callers (the app, the job runner) catch these to show one sentence to the user, so every message
is written for a person, never a driver's traceback text.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """Invalid settings: ``problems`` holds one sentence per problem, all found in one pass."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


class StoreError(Exception):
    """Anything the metadata store refuses or cannot do."""


class NotFound(StoreError):
    """The row asked for does not exist."""


class PermissionDenied(StoreError):
    """The acting user may not read or change this row (ownership and roles are enforced here)."""


class Conflict(StoreError):
    """The change contradicts the stored state: a taken username, deleting a workbook that runs
    still use, deleting a run that is still executing, removing the last admin."""


class InvalidValue(StoreError, ValueError):
    """A value the store will not keep (an unknown role or status, a too long password)."""


class LimitReached(StoreError):
    """A user submitted a run while already at the per-user limit of active runs."""

    def __init__(self, active: int, limit: int) -> None:
        runs = "run" if active == 1 else "runs"
        super().__init__(f"You already have {active} {runs} queued or running; the limit is "
                         f"{limit} at a time.")
        self.active = active
        self.limit = limit
