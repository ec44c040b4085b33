"""`fiduciary serve --demo`: the demo shop's folder is found, exported for the workers, or refused clearly."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import typer

from fiduciary.cli.main import _with_demo_shop
from fiduciary.config import Settings
from fiduciary.web.demo_shop import default_demo_folder


def test_the_checkout_demo_shop_is_found_and_exported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIDUCIARY_DEMO_SHOP", "unset")  # so that monkeypatch restores the environment after
    monkeypatch.delenv("FIDUCIARY_DEMO_SHOP")
    chosen = _with_demo_shop(Settings(data_dir=tmp_path / "data"))
    assert chosen.demo_shop == default_demo_folder() and chosen.demo_shop is not None
    assert (chosen.demo_shop / "index.html").is_file()
    assert os.environ["FIDUCIARY_DEMO_SHOP"] == str(chosen.demo_shop)


def test_a_folder_without_the_shop_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as exit_info:
        _with_demo_shop(Settings(data_dir=tmp_path / "data", demo_shop=tmp_path))
    assert exit_info.value.exit_code == 2
    assert "FIDUCIARY_DEMO_SHOP" in capsys.readouterr().err
