"""The README's Python examples run as written (in a folder holding the image they name)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.M | re.S)


def test_the_readme_has_the_seed_example_and_the_registry_example():
    blocks = python_blocks()
    assert len(blocks) == 2
    assert "from opsml_image import ImageDataset, ImageMetadata, ImageRecord, BBox" in blocks[0]
    assert "registry.register_card(card" in blocks[1]
    assert "registry.download_data(loaded" in blocks[1] and "registry.to_hf_dataset(loaded)" in blocks[1]


def test_the_readme_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_image) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.delenv("OPSML_TRACKING_URI", raising=False)
    monkeypatch.delenv("OPSML_STORAGE_URI", raising=False)
    make_image(tmp_path / "my_images" / "0001.png", size=(640, 480))
    namespace: dict[str, object] = {}
    for block in python_blocks():
        exec(
            compile(block.replace("/tmp/street-signs", str(tmp_path / "street-signs")), "README.md", "exec"),
            namespace,
        )
    assert namespace["report"].ok  # type: ignore[attr-defined]
    assert (tmp_path / "street-signs" / "0001.png").exists()
    assert namespace["loaded"].data.image_dir == tmp_path / "street-signs"  # type: ignore[attr-defined]
    diff = namespace["registry"].diff("street-signs", "1.0.0", "1.1.0")  # type: ignore[attr-defined]
    assert diff.empty
    namespace["registry"].close()  # type: ignore[attr-defined]
