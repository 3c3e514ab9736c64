"""The exceptions courtbox raises inside; the CLI and the API turn them into messages.

Every failure a clerk or an operations engineer can cause or meet has a small named class
here, so that the edges (CLI exit code, HTTP status) can map them without parsing text.
"""


class CourtboxError(Exception):
    """Base of every error courtbox raises on purpose."""


class ConfigError(CourtboxError):
    """The configuration file is missing, unreadable or invalid.

    ``problems`` holds one line per invalid key, each naming the key (``seats[1].role``).
    """

    def __init__(self, problems: list[str], source: str = "") -> None:
        self.problems = problems
        self.source = source
        super().__init__("\n".join(problems))


class ModelError(CourtboxError):
    """The speech model cannot be found, assembled or verified."""


class StoreError(CourtboxError):
    """The SQLite store cannot be opened, migrated or written."""


class AudioError(CourtboxError):
    """An audio device or file cannot be opened or read."""


class HearingError(CourtboxError):
    """A hearing operation is not allowed in the hearing's current state."""


class AuthError(CourtboxError):
    """An account cannot be created or used as asked (bad name, role or password)."""


class TranscriptError(CourtboxError):
    """The record refuses a correction or a sign-off; ``status`` is the HTTP status that
    says why (409 conflict or frozen, 404 no such line, 403 not a signing role)."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


class ExportError(CourtboxError):
    """A hearing cannot be exported in the asked format."""


class SyncError(CourtboxError):
    """A sync request the box or the collector refuses (an ack beyond the box's last
    entry, a box whose identity does not match the pinned one)."""
