"""The coordinator's pages and the member's preferences page in a real Chromium, against
the services running as processes (registry, dispatch for the cost report, ...)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot
from tests.browser.console import log_in
from tests.browser.registry_story import Neighbourhood, link, member_record, set_up
from tests.e2e.system import RunningSystem

HEADER = (
    "full_name;birth_date;street;house_number;municipality;phone;language;"
    "registration_signed_on;house_rules_version;house_rules_accepted_on"
)
SIGNED = "10/01/2026;2024-1;10/01/2026"
GOOD_AND_BAD = "\n".join(
    [
        HEADER,
        f"Els Wouters;12/04/1969;Abdijstraat;40;Leuven;0470 11 22 40;nl;{SIGNED}",
        f"Tom Claes;01/02/2015;Abdijstraat;41;Leuven;0470 11 22 41;nl;{SIGNED}",  # a child
        f"Ines Maes;03/03/1980;Naamsesteenweg;5;Leuven;0470 11 22 42;nl;{SIGNED}",  # elsewhere
        f"Bart Smets;04/04/1981;Abdijstraat;43;Leuven;;nl;{SIGNED}",  # no way to reach him
        f"Sofie Goossens;05/05/1982;Abdijstraat;44;Leuven;0470 11 22 44;fr;{SIGNED}",
    ]
)


@pytest.fixture(scope="module")
def story(system: RunningSystem) -> Neighbourhood:
    return set_up(system.url("registry"))


def coordinator_logged_in(page: Page, system: RunningSystem, story: Neighbourhood) -> str:
    base = system.url("registry")
    log_in(page, base, story.coordinator, "/console")
    return base


def test_a_coordinator_sees_their_bins_its_lifecycle_and_the_month_s_sms_cost(
    page: Page, system: RunningSystem, story: Neighbourhood
) -> None:
    base = coordinator_logged_in(page, system, story)
    cards = page.locator(".card")
    expect(cards).to_have_count(1)  # the other BIN is not theirs
    expect(cards).to_contain_text("Kessel-Lo Noord")
    expect(cards).to_contain_text("Actief")
    screenshot(page, "registry-bins")

    page.get_by_role("link", name="Kessel-Lo Noord").click()
    page.wait_for_url(f"{base}/console/bins/{story.bin_id}")
    expect(page.locator("[aria-current=step]")).to_have_text("Actief")
    signatures = page.locator("table", has_text="Ondertekend door")
    expect(signatures.locator("tbody tr")).to_have_count(4)
    expect(signatures).to_contain_text("Korpschef")
    expect(signatures).to_contain_text("coordinator")  # the signer's token subject
    # Dispatch answers on loopback: its figure, not "not available".
    expect(page.locator("[data-cost=available]")).to_contain_text("0")
    screenshot(page, "registry-lifecycle")


def test_a_coordinator_is_refused_another_bin(
    page: Page, system: RunningSystem, story: Neighbourhood
) -> None:
    base = coordinator_logged_in(page, system, story)
    for path in ("", "/members", "/import"):
        response = page.goto(f"{base}/console/bins/{story.other_bin_id}{path}")
        assert response is not None and response.status == 403
        expect(page.get_by_role("alert")).to_contain_text("hoort niet bij uw aanstelling")
        expect(page.locator("body")).not_to_contain_text("Heverlee")


def test_a_coordinator_imports_a_csv_and_sees_the_refused_rows_with_their_reasons(
    page: Page, system: RunningSystem, story: Neighbourhood
) -> None:
    base = coordinator_logged_in(page, system, story)
    page.goto(f"{base}/console/bins/{story.bin_id}/import")
    page.get_by_label("CSV-bestand").set_input_files(
        files={"name": "leden.csv", "mimeType": "text/csv", "buffer": GOOD_AND_BAD.encode()}
    )
    page.get_by_role("button", name="Importeren").click()

    report = page.locator("#report")
    expect(report).to_be_visible()
    expect(page.locator("[data-status]")).to_contain_text("Niet geïmporteerd")
    rows = report.locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("3")  # line 3: a child
    expect(rows.nth(0)).to_contain_text("18")
    expect(rows.nth(1)).to_contain_text("4")  # line 4: outside the BIN's streets
    expect(rows.nth(2)).to_contain_text("5")  # line 5: no phone, no e-mail
    expect(report.locator("[data-field=imported]")).to_have_text("nee")
    screenshot(page, "registry-import-report")

    # Nothing half-imported; with "the good rows anyway" the two good ones come in.
    page.get_by_label("De goede rijen importeren").check()
    page.get_by_role("button", name="Importeren").click()
    expect(report.locator("[data-field=imported]")).to_have_text("ja")
    expect(report.locator("[data-field=accepted]")).to_have_text("2")
    page.get_by_role("link", name="Naar de ledenlijst").click()
    expect(page.locator("tbody")).to_contain_text("Els Wouters")
    expect(page.locator("tbody")).to_contain_text("Sofie Goossens")
    expect(page.locator("tbody")).not_to_contain_text("Tom Claes")


def test_a_coordinator_searches_adds_and_removes_a_member(
    page: Page, system: RunningSystem, story: Neighbourhood
) -> None:
    base = coordinator_logged_in(page, system, story)
    page.goto(f"{base}/console/bins/{story.bin_id}/members")
    page.get_by_label("Zoeken op naam of straat").fill("peeters")
    page.get_by_role("button", name="Zoeken", exact=True).click()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody")).to_contain_text("An Peeters")

    page.get_by_role("link", name="Alles tonen").click()
    page.locator("summary", has_text="Lid toevoegen").click()
    form = page.locator("form[data-api$='/members']")
    form.get_by_label("Naam").fill("Karel Vermeulen")
    form.get_by_label("Geboortedatum").fill("1960-07-01")
    form.get_by_label("Straat").fill("Abdijstraat")
    form.get_by_label("Huisnummer").fill("77")
    form.get_by_label("Telefoon (gsm)").fill("0470 98 76 54")
    form.get_by_label("Versie van het huishoudelijk reglement").fill("2024-1")
    form.get_by_role("button", name="Lid toevoegen").click()
    expect(page.locator("tbody")).to_contain_text("Karel Vermeulen")
    expect(page.locator("tbody")).to_contain_text("+32470987654")
    screenshot(page, "registry-members")

    page.get_by_role("link", name="Karel Vermeulen").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Lid verwijderen").click()
    page.wait_for_url(f"{base}/console/bins/{story.bin_id}/members")
    expect(page.locator("tbody")).not_to_contain_text("Karel Vermeulen")


def test_a_member_unsubscribes_from_the_digest_through_the_signed_link(
    phone: Page, system: RunningSystem, story: Neighbourhood
) -> None:
    registry = system.url("registry")
    member_id = story.member_ids["An Peeters"]
    phone.goto(f"{registry}/preferences/{link(member_id)}")
    expect(phone.get_by_role("heading", level=1)).to_have_text("Uw voorkeuren")
    expect(phone.locator("main")).to_contain_text("Kessel-Lo Noord")
    screenshot(phone, "preferences-phone")

    phone.get_by_label("Ja, stuur mij op weekdagen het overzicht").uncheck()
    phone.get_by_label("Per SMS").uncheck()
    phone.get_by_role("button", name="Mijn keuzes opslaan").click()
    expect(phone.get_by_role("status")).to_contain_text("Opgeslagen")
    expect(phone.get_by_label("Ja, stuur mij op weekdagen het overzicht")).not_to_be_checked()

    record = member_record(registry, story.coordinator, member_id).json()
    assert record["digest_subscribed"] is False
    assert set(record["channels"]) == {"email", "voice", "push"}


def test_a_member_with_no_channel_ticked_is_asked_for_one(
    phone: Page, system: RunningSystem, story: Neighbourhood
) -> None:
    phone.goto(f"{system.url('registry')}/preferences/{link(story.member_ids['Marie Janssens'])}")
    for name in ("Per e-mail", "Per SMS", "Met een telefoonoproep", "In de app"):
        phone.get_by_label(name).uncheck()
    phone.get_by_role("button", name="Mijn keuzes opslaan").click()
    expect(phone.get_by_role("alert")).to_contain_text("minstens één")


def test_an_expired_link_is_refused_in_the_member_s_language(
    phone: Page, system: RunningSystem, story: Neighbourhood
) -> None:
    registry = system.url("registry")
    expired = link(story.member_ids["Luc Dubois"], ttl_seconds=-60)
    response = phone.goto(f"{registry}/preferences/{expired}")
    assert response is not None and response.status == 410
    expect(phone.get_by_role("heading", level=1)).to_have_text("Ce lien a expiré")
    screenshot(phone, "preferences-expired")

    tampered = expired.replace(expired.split(".")[1], "9999999999")
    response = phone.goto(f"{registry}/preferences/{tampered}")
    assert response is not None and response.status == 403
    expect(phone.get_by_role("heading", level=1)).to_have_text("Deze link klopt niet")
    response = phone.goto(f"{registry}/preferences/not-a-link")
    assert response is not None and response.status == 400


def test_a_member_leaves_the_bin_through_the_signed_link(
    phone: Page, system: RunningSystem, story: Neighbourhood
) -> None:
    registry = system.url("registry")
    member_id = story.member_ids["Marie Janssens"]
    address = f"{registry}/preferences/{link(member_id)}"
    phone.goto(address)
    phone.get_by_label("Ja, ik wil de BIN verlaten").check()
    phone.get_by_role("button", name="Uitschrijven en gegevens wissen").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("U bent uitgeschreven")
    assert member_record(registry, story.coordinator, member_id).status_code == 404
    # The link now leads nowhere.
    response = phone.goto(address)
    assert response is not None and response.status == 410
    expect(phone.get_by_role("heading", level=1)).to_have_text("U bent geen lid meer")
