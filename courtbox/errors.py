"""The exceptions courtbox raises inside; the CLI and the API turn them into messages.

Every failure a clerk or an operations engineer can cause or meet has a small named class
here, so that the edges (CLI exit code, HTTP status: ``courtbox.web.statuses``) can map them
without parsing text; none of them knows a status itself.
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
    """The record refuses a correction or a sign-off: the transcript is frozen, the line
    was revised meanwhile, the hearing is not closed, the signer has signed already; or
    one of the kinds below."""


class NoSuchLine(TranscriptError):
    """A correction of a line the hearing does not have."""


class EmptyLine(TranscriptError):
    """A correction that would leave the line empty."""


class NotASigner(TranscriptError):
    """A sign-off by a role that does not sign transcripts."""


class ExportError(CourtboxError):
    """A hearing cannot be exported in the asked format."""


class SyncError(CourtboxError):
    """A sync request the box or the collector refuses (an ack beyond the box's last
    entry, a box whose identity does not match the pinned one)."""


class TlsError(CourtboxError):
    """A TLS certificate cannot be made, read or trusted (one the box's key did not
    sign, a key that is not the certificate's)."""


class BadText(CourtboxError):
    """An identifier (case number, user name, display name, seat id) holding a character
    that is not what it looks like: a bidirectional override, NUL or another control."""


class NotYourHearing(CourtboxError):
    """A sign-off or a close by someone who is not the hearing's own panel or clerk."""


class PartyError(CourtboxError):
    """A party's review refused: no such code, an expired or used one, a hearing not
    closed, an act already made, a bad signature image."""


class BadPartyCode(PartyError):
    """A party code that is unknown, used, expired or revoked."""
