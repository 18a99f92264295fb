"""The catalog and freeze-calendar paths: defaults, overrides, and missing files tolerated."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.catalog import ServiceCatalog
from bot.settings import load_settings


def test_defaults_are_repo_root_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WIZARD_CATALOG_PATH", raising=False)
    monkeypatch.delenv("WIZARD_FREEZES_PATH", raising=False)
    settings = load_settings()
    assert settings.catalog_path == Path("catalog.yaml")
    assert settings.freezes_path == Path("freezes.yaml")


def test_environment_overrides_and_missing_file_is_empty(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("WIZARD_CATALOG_PATH", str(tmp_path / "absent.yaml"))
    monkeypatch.setenv("WIZARD_FREEZES_PATH", str(tmp_path / "f.yaml"))
    settings = load_settings()
    assert settings.catalog_path == tmp_path / "absent.yaml"
    assert settings.freezes_path == tmp_path / "f.yaml"
    assert len(ServiceCatalog.load(settings.catalog_path)) == 0
