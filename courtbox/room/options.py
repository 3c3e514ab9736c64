"""How a hearing is recorded, read from the config once: ``RecorderOptions``.

The archive's segment length and disk reserve, the level meter's alarms, the utterance
cutting, the VAD thresholds and the partial-line pace. ``RecordingStack`` builds it when it
opens and every recording part uses it as is; ``courtbox bench`` and ``courtbox
transcribe`` take their speech settings from the same object, so that nothing reads
``[vad]`` or ``[model]`` a second way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from courtbox.audio.arrayfront import ArraySpec, specs_from_config
from courtbox.audio.levels import MeterOptions
from courtbox.audio.seats import SegmenterOptions
from courtbox.transcribe.stream import StreamOptions
from courtbox.transcribe.vad import VadOptions

if TYPE_CHECKING:
    from courtbox.config import Config


@dataclass(frozen=True)
class RecorderOptions:
    segment_seconds: int = 60
    reserve_bytes: int = 0  # left free on the data disk
    warn_hours: float = 0.0  # fewer recording hours left than this: warn
    meter: MeterOptions = field(default_factory=MeterOptions)
    segmenter: SegmenterOptions = field(default_factory=SegmenterOptions)
    vad: VadOptions = field(default_factory=VadOptions)
    stream: StreamOptions = field(default_factory=StreamOptions)
    arrays: tuple[ArraySpec, ...] = ()  # microphone arrays and the seats they hear

    @classmethod
    def from_config(cls, config: Config) -> RecorderOptions:
        a, s, v, m = config.audio, config.storage, config.vad, config.model
        return cls(
            segment_seconds=a.segment_seconds, reserve_bytes=s.reserve_mb << 20,
            warn_hours=s.warn_hours, meter=MeterOptions(dead_after_s=a.dead_mic_minutes * 60),
            segmenter=SegmenterOptions(hangover_ms=v.hangover_ms, pre_roll_ms=v.padding_ms,
                                       min_speech_ms=v.min_speech_ms,
                                       soft_max_s=min(12.0, v.max_utterance_s),
                                       max_utterance_s=v.max_utterance_s),
            vad=VadOptions(threshold=v.threshold, neg_threshold=v.neg_threshold),
            stream=StreamOptions(interval_s=m.partial_interval_s, partials=m.partials),
            arrays=specs_from_config(config))
