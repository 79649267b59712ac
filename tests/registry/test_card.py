from __future__ import annotations

from pathlib import Path

import pytest

from opsml_image.registry import DataCard, InvalidNameError
from opsml_image.registry.card import CategoryFact, DataFacts, normalise_name


def card(**kwargs: object) -> DataCard:
    fields = {"name": "street-signs", "team": "vision", "user_email": "ana@example.com", **kwargs}
    return DataCard(**fields)  # type: ignore[arg-type]


def test_names_are_normalised() -> None:
    made = card(name="  Street Signs ", team="Vision_Team")
    assert (made.name, made.team) == ("street-signs", "vision_team")
    assert normalise_name("A-b_9") == "a-b_9"


@pytest.mark.parametrize("bad", ["", "bad/name", "naïve", "-leading", "dots.not.allowed", "a@b"])
def test_bad_names_raise(bad: str) -> None:
    with pytest.raises(InvalidNameError, match="not allowed"):
        card(name=bad)


def test_team_and_name_at_most_53_characters() -> None:
    card(team="t" * 10, name="n" * 42)  # 10 + 1 + 42 = 53
    with pytest.raises(InvalidNameError, match="longer than 53"):
        card(team="t" * 10, name="n" * 43)


def test_email_is_checked() -> None:
    assert card(user_email=" ana@example.com ").user_email == "ana@example.com"
    with pytest.raises(InvalidNameError, match="email"):
        card(user_email="ana-at-example")


def test_assignment_is_validated_too() -> None:
    made = card()
    made.name = "New Name"
    assert made.name == "new-name"
    with pytest.raises(ValueError):
        made.team = "no/slash"


def test_tags_and_record_without_data(dataset_dir: Path) -> None:
    from opsml_image import ImageDataset

    made = card(data=ImageDataset(image_dir=dataset_dir), tags={"source": "dashcam", "n": 3})
    record = made.to_record()
    assert record["tags"] == {"source": "dashcam", "n": "3"}
    assert "data" not in record
    assert made.uid is None and not made.registered


def test_category_names_fill_gaps() -> None:
    facts = DataFacts(
        images=1,
        records=1,
        annotated_images=1,
        boxes=2,
        categories=[CategoryFact(id=0, name="car", boxes=1), CategoryFact(id=2, name=None, boxes=1)],
        splits={"train": 1},
        files=2,
        total_bytes=10,
        content_digest="x",
    )
    assert facts.category_names() == ["car", "category_1", "category_2"]


def test_a_card_is_a_plain_model_that_round_trips(tmp_path: Path) -> None:
    made = card(tags={"source": "dashcam"}, version="1.0.0", uid="abc")
    assert not made.__pydantic_private__  # no hidden loader or other state
    assert not hasattr(made, "download_data") and not hasattr(made, "to_hf_dataset")
    again = DataCard.model_validate(made.to_record())
    assert again == made and again.to_record() == made.to_record()
