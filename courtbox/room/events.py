"""What a hearing's recording tells the room as it happens: ``RoomEvents``.

One sink, handed to the recorder once (``Courtroom`` → ``HearingSession`` → ``Recorder``):
a *final* line once it is durable in the store, a *partial* line while a seat still speaks
(never stored: the final replaces it), a line *revised* by the recogniser's reading of a
whole turn, and a *levels* report ten times a second. The courtroom implements it for the
live pages; ``courtbox record`` and the demo print finals and revisions (``PrintedLines``);
the benchmark times them. Each method is called on one of the recorder's threads and must
not block; an exception is logged by the recorder and does not stop recording.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from courtbox.audio.levels import LevelReport
    from courtbox.transcribe.stream import PartialLine


class RoomEvents(Protocol):
    def final(self, hearing_id: str, line: dict) -> None:
        """A final line, durable: the store's row (``id`` included) plus the utterance's
        speech bounds ``speech_t0``/``speech_t1``."""

    def partial(self, hearing_id: str, line: PartialLine) -> None:
        """What a seat still speaking has said so far."""

    def revised(self, hearing_id: str, line: dict, merged: list[str]) -> None:
        """The recogniser read a seat's whole turn again (``transcribe.turns``): ``line``
        (the store's row, a revision by the recogniser) replaces the turn's first line in
        place, and the lines ``merged`` (utterance ids) are now in it."""

    def levels(self, hearing_id: str, report: LevelReport) -> None:
        """Every channel's meter reading, alarms and dead microphones for one window."""


class Quiet:
    """Takes every event and does nothing: the default, and a base for a sink that wants
    only some of them."""

    def final(self, hearing_id: str, line: dict) -> None:
        return None

    def partial(self, hearing_id: str, line: PartialLine) -> None:
        return None

    def revised(self, hearing_id: str, line: dict, merged: list[str]) -> None:
        return None

    def levels(self, hearing_id: str, report: LevelReport) -> None:
        return None


QUIET = Quiet()


class PrintedLines(Quiet):
    """Prints each final line as it becomes durable, and each line the recogniser revised
    after reading a whole turn (marked ``↻``), as ``show`` writes a line; ``lines`` is the
    transcript as it stands (a revision replaces its line, the lines merged into it are
    gone). ``courtbox record`` and the demo print with it."""

    def __init__(self, say: Callable[[str], None], show: Callable[[dict], str]) -> None:
        self.say = say
        self.show = show
        self.lines: list[dict] = []
        self._lock = threading.Lock()

    def final(self, hearing_id: str, line: dict) -> None:
        with self._lock:
            self.lines.append(line)
        self.say(self.show(line))

    def revised(self, hearing_id: str, line: dict, merged: list[str]) -> None:
        gone = {line["utterance_id"], *merged}
        with self._lock:
            self.lines = [ln for ln in self.lines if ln["utterance_id"] not in gone] + [line]
        self.say("↻ " + self.show(line))
