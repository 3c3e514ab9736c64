"""``courtbox install --central`` into a staging root: the centre's commented TOML, every key
of the schema with its default, readable by the collector's group only, kept when edited;
and the collector's unit reading it."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import pytest

from courtbox.central.config import CentralConfig, load_central_config
from courtbox.errors import ConfigError
from tests.conftest import run_courtbox


def test_install_central_writes_a_commented_config_the_collector_can_read(
        tmp_path: Path) -> None:
    root = tmp_path / "root"
    out = run_courtbox("install", "--root", str(root), "--central", timeout=120).stdout
    config = root / "etc/courtbox/central.toml"
    assert f"config: {config} written" in out
    text = config.read_text(encoding="utf-8")
    raw = tomllib.loads(text)
    schema = CentralConfig.model_fields
    assert set(raw) == set(schema)
    for section, field in schema.items():
        assert set(raw[section]) == set(field.annotation.model_fields), section
    assert text.count("\n# ") > 20  # every key under its description
    # As written it names no database: the one line says which key to set.
    with pytest.raises(ConfigError, match=r"central\.database"):
        load_central_config(config)
    loaded = load_central_config(config, database="postgresql://courtbox@db.example/c")
    assert loaded.model_dump(exclude={"central": {"database"}}) == CentralConfig().model_dump(
        exclude={"central": {"database"}})

    assert config.stat().st_mode & 0o777 == 0o640
    assert (root / "etc/courtbox").stat().st_mode & 0o777 == 0o755
    if os.geteuid() == 0:
        gid = re.search(r"^courtbox-central:x:(\d+):", (root / "etc/group").read_text(),
                        re.M)[1]
        assert config.stat().st_gid == int(gid)
    unit = (root / "etc/systemd/system/courtbox-central.service").read_text()
    assert "central run --config /etc/courtbox/central.toml" in unit
    assert "User=courtbox-central" in unit

    config.write_text(text + "\n# edited\n", encoding="utf-8")
    out = run_courtbox("install", "--root", str(root), "--central", timeout=120).stdout
    assert f"config: {config} kept as it is" in out
    assert config.read_text(encoding="utf-8").endswith("# edited\n")
