import uuid
from datetime import UTC, date, datetime, timedelta

from services.digest.domain.calendar import BRUSSELS
from services.digest.domain.rendering import render
from services.digest.domain.selection import DigestBin, NewsItem, select
from shared.events import BinKind, Language, PoliceNewsCategory

START = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
END = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)


def item(
    category: PoliceNewsCategory, hours: int, place: str = "Leuven", zone: str = "Leuven"
) -> NewsItem:
    at = START + timedelta(hours=hours)
    return NewsItem(uuid.uuid4(), zone, category, at, place, f"{category} at {place}", at)


def digest_bin(kind: BinKind = BinKind.BIN) -> DigestBin:
    return DigestBin(uuid.uuid4(), kind, "Leuven", "Kessel-Lo", ["nl", "fr"])


def test_only_the_zones_items_of_the_period() -> None:
    inside = item(PoliceNewsCategory.BURGLARY_HOME, 5)
    other_zone = item(PoliceNewsCategory.BURGLARY_HOME, 5, zone="Brussel")
    too_early = item(PoliceNewsCategory.BURGLARY_HOME, -1)
    too_late = item(PoliceNewsCategory.BURGLARY_HOME, 73)
    assert select([inside, other_zone, too_early, too_late], digest_bin(), START, END, 10) == [
        inside
    ]


def test_local_first_then_newest_and_capped() -> None:
    far_old = item(PoliceNewsCategory.DAMAGE_VANDALISM, 1)
    far_new = item(PoliceNewsCategory.DAMAGE_VANDALISM, 10)
    local = item(PoliceNewsCategory.DAMAGE_VANDALISM, 2, place="Kessel-Lo, Diestsesteenweg")
    chosen = select([far_old, far_new, local], digest_bin(), START, END, 2)
    assert chosen == [local, far_new]


def test_bin_z_digests_favour_shop_thefts_and_business_burglaries() -> None:
    accident = item(PoliceNewsCategory.TRAFFIC_ACCIDENT_WITH_INJURIES, 10)
    shop = item(PoliceNewsCategory.SMALL_THEFT, 1)
    business = item(PoliceNewsCategory.BURGLARY_OTHER_BUILDING, 2)
    chosen = select([accident, shop, business], digest_bin(BinKind.BIN_Z), START, END, 10)
    assert chosen == [business, shop, accident]
    resident = select([accident, shop, business], digest_bin(), START, END, 10)
    assert resident[0] == accident


def test_rendered_per_language_with_escaped_html_and_the_preferences_placeholder() -> None:
    items = [item(PoliceNewsCategory.BURGLARY_HOME, 3, place="<Abdijstraat>")]
    nl = render("Kessel-Lo Noord", date(2026, 11, 23), items, Language.NL, BRUSSELS)
    fr = render("Kessel-Lo Noord", date(2026, 11, 23), items, Language.FR, BRUSSELS)
    assert nl.subject.startswith("Politienieuws voor Kessel-Lo Noord")
    assert "Woninginbraak" in nl.text and "Cambriolage" in fr.text
    assert "&lt;Abdijstraat&gt;" in nl.html and "<Abdijstraat>" not in nl.html
    assert "{preferences_url}" in nl.text and 'href="{preferences_url}"' in nl.html
