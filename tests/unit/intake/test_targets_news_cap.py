import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import xmlschema

from services.intake.domain.cap import CapAlert, CapReference, render
from services.intake.domain.news import NewsCategory, publication_problem
from services.intake.domain.targets import KnownBin, Reason, inactive, propose
from shared.areas import Parity, StreetSegment

CAP = xmlschema.XMLSchema(Path(__file__).parents[2] / "schemas" / "CAP-v1.2.xsd")


def _bin(status: str, streets: list[StreetSegment], neighbours: list[uuid.UUID]) -> KnownBin:
    return KnownBin(uuid.uuid4(), "Leuven", status, streets, neighbours)


def test_the_covering_bin_comes_first_then_its_neighbours_inactive_ones_unticked() -> None:
    north_id, south_id = uuid.uuid4(), uuid.uuid4()
    north = KnownBin(north_id, "Leuven", "active", [StreetSegment("Abdijstraat")], [south_id])
    south = KnownBin(south_id, "Leuven", "suspended", [StreetSegment("Tiensestraat")], [north_id])
    other = _bin("active", [StreetSegment("Abdijstraat", 1, 9, Parity.ODD)], [])
    bins = {b.bin_id: b for b in (north, south, other)}
    proposal = propose(bins, "LEUVEN", "abdijstraat", "12")
    assert [(p.bin_id, p.reason, p.selected) for p in proposal] == [
        (north_id, Reason.COVERS_PLACE, True),
        (south_id, Reason.ADJACENT, False),
    ]
    assert propose(bins, "Brussel", "Abdijstraat", "12") == []


def test_only_active_known_bins_may_be_alerted() -> None:
    known, asleep, unknown = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    problems = inactive([known, asleep, unknown], {known: "active", asleep: "approved"})
    assert problems == [
        f"{asleep}: the BIN is approved; only an active BIN is alerted",
        f"{unknown}: no such BIN",
    ]


@pytest.mark.parametrize("category", list(NewsCategory))
def test_only_the_digest_categories_can_be_published(category: NewsCategory) -> None:
    refused = publication_problem(category, publishable=True)
    secret = category in {
        NewsCategory.NEIGHBOUR_DISPUTE,
        NewsCategory.FAMILY_MATTER,
        NewsCategory.CONFIDENTIAL,
        NewsCategory.OTHER,
    }
    assert (refused is not None) is secret
    assert publication_problem(category, publishable=False) is None


def test_cap_messages_are_valid_against_the_oasis_schema() -> None:
    sent = datetime(2026, 11, 23, 18, 5, 7, 123456, tzinfo=UTC)
    original = CapAlert(
        alert_id=uuid.uuid4(),
        sender="bin@pz-leuven.be",
        sender_name="Politiezone Leuven",
        sent=sent,
        texts={"nl": "Verdachte wagen <wit> & snel", "fr": "Voiture suspecte"},
        bin_names=["Kessel-Lo Noord"],
        expires=sent,
    )
    CAP.validate(render(original))
    update = CapAlert(
        alert_id=uuid.uuid4(),
        sender="bin@pz-leuven.be",
        sender_name="Politiezone Leuven",
        sent=sent,
        texts={"nl": "Verdachte opgepakt, bedankt"},
        bin_names=[],
        follows=CapReference(original.alert_id, sent),
    )
    xml = render(update)
    CAP.validate(xml)
    assert "<msgType>Update</msgType>" in xml and "+00:00" in xml
    CAP.validate(render(CapAlert(**{**original.__dict__, "cancelled": True})))
