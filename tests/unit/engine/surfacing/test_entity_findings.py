"""What the text and reviews name and the attributes do not: a stated value becomes a
mechanical attribute fix, a reviewed one advice, several values nothing automatic."""

from __future__ import annotations

import dataclasses

from engine.surfacing.audit import Examiner
from engine.surfacing.checks.entities import entity_findings
from engine.surfacing.entities import extract_entities
from engine.surfacing.product import Product, Reviews

DESK = Product(
    id="desk",
    title="Nordhem writing desk",
    description="A writing desk made of solid walnut, 120 cm wide, with one drawer.",
    brand="Nordhem",
)


def fields_of(product: Product) -> set[str | None]:
    return {f.field for f in entity_findings(product, extract_entities(product))}


def test_a_material_only_in_the_text_is_set_by_a_mechanical_fix() -> None:
    [finding] = [
        f for f in entity_findings(DESK, extract_entities(DESK)) if f.field == "attributes.material"
    ]
    assert finding.check == "attribute_only_in_text"
    assert finding.fix is not None
    assert finding.fix.mechanical
    fixed = finding.fix.apply(DESK)
    assert fixed.attributes["material"] == "walnut"
    assert "attributes.material" not in fields_of(fixed)


def test_a_filled_attribute_or_an_already_reported_field_gives_nothing() -> None:
    filled = dataclasses.replace(DESK, attributes={"material": "walnut"})
    assert "attributes.material" not in fields_of(filled)
    reported = entity_findings(
        DESK, extract_entities(DESK), reported_fields={"attributes.material"}
    )
    assert all(f.field != "attributes.material" for f in reported)


def test_several_stated_colours_are_left_to_a_person() -> None:
    mug = Product(id="mug", title="Kiln mug", description="Comes in black or white stoneware.")
    fields = {f.field: f for f in entity_findings(mug, extract_entities(mug))}
    assert "attributes.color" not in fields
    assert fields["attributes.material"].fix is not None  # one material: stoneware


def test_reviews_naming_an_unlisted_material_are_advice() -> None:
    bag = Product(
        id="bag",
        title="Atelier tote bag",
        description="A roomy everyday tote with an inner pocket.",
        reviews=Reviews(texts=("Lovely soft leather, smells great.", "The leather is thick.")),
    )
    [finding] = [
        f for f in entity_findings(bag, extract_entities(bag)) if f.field == "attributes.material"
    ]
    assert finding.check == "reviews_name_unlisted_attribute"
    assert finding.fix is not None
    assert not finding.fix.mechanical
    assert "leather" in finding.evidence


def test_the_examiner_reports_entities_and_other_known_brands() -> None:
    tv = Product(
        id="tv",
        title="Samsung 55-inch smart TV, black",
        brand="Samsung",
        description="Sharper picture than the Sony of the same size.",
    )
    [examination] = Examiner(known_brands=("Sony", "Samsung")).examine([tv])
    assert examination.entities is not None
    assert examination.entities.other_brands == ("Sony",)
    assert examination.entities.attributes["color"] == ("black",)
    assert "attribute_only_in_text" in {f.check for f in examination.findings}
