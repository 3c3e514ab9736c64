"""The hearing's own words reach the recogniser only where something like them is heard:
the rule on text, then real AISHELL-1 speech through the real recogniser."""

from __future__ import annotations

from pathlib import Path

import soundfile as sf

from courtbox.transcribe.engine import EngineOptions, WhisperEngine
from courtbox.transcribe.hearingwords import sounds_like

ROOT = Path(__file__).resolve().parents[2]
SPEECH = ROOT / "bench" / "speech" / "aishell-dev"
HEARING = ("王建国", "李秀英", "陈立明", "刘芳", "北京华信科技有限公司", "赵国强")


def test_a_word_is_heard_in_what_sounds_like_it_and_nowhere_else() -> None:
    assert sounds_like("原告王建果说", HEARING) == ("王建国",)       # one syllable off in three
    assert sounds_like("北京华信科技有线公司", HEARING) == ("北京华信科技有限公司",)
    assert sounds_like("今午纯真。", ("精武陈真",)) == ("精武陈真",)  # jin/jing, chun/chen
    assert sounds_like("流放到边疆", HEARING) == ("刘芳",)          # a homophone of two
    assert sounds_like("王建国到庭", HEARING) == ()                  # written already
    assert sounds_like("上海孙中山故居纪念馆", HEARING) == ()
    assert sounds_like("13925800457", HEARING) == ()
    assert sounds_like("原告王建果说", ()) == ()


def test_the_hearings_words_mend_a_name_and_leave_other_speech_as_it_is(
        model_dir: Path) -> None:
    engine = WhisperEngine(EngineOptions(model_dir=str(model_dir), cpu_threads=2,
                                         language="zh"))

    def heard(uid: str, words: tuple[str, ...] = ()) -> str:
        audio, _ = sf.read(str(SPEECH / f"{uid}.flac"), dtype="float32")
        return engine.recognize(audio, extra_hotwords=words).text

    # 精武飞鸿, a film's name, is 将武飞红 to the model alone.
    assert "精武飞鸿" not in heard("BAC009S0150W0117")
    assert "精武飞鸿" in heard("BAC009S0150W0117", ("精武飞鸿", *HEARING))
    # Speech with nothing like the hearing's words is read exactly as without them.
    for uid in ("BAC009S0150W0095", "BAC009S0252W0040"):
        assert heard(uid, HEARING) == heard(uid)
