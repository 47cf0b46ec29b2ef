"""Alert texts as operators in a border zone type them in a hurry, in Dutch, French and
German: what goes out, and what the guard asks about. Each line holds plates, identifiers
and near-misses side by side, so a rule that catches too much or too little shows here."""

from __future__ import annotations

import pytest

from services.intake.domain.privacy import guard_texts
from shared.events import Language

NL, FR, DE = Language.NL, Language.FR, Language.DE

CORPUS: list[tuple[Language, str, str, list[str]]] = [
    (
        NL,
        "DRINGEND: inbraak bezig Kerkstraat 12 bus 3, 3000 Leuven. Daders vluchtten om 14u35 "
        "in een grijze Audi 1-abc-123 richting E40. Bel 101 of 112.",
        "DRINGEND: inbraak bezig Kerkstraat 12 bus 3, 3000 Leuven. Daders vluchtten om 14u35 "
        "in een grijze Audi [nummerplaat] richting E40. Bel 101 of 112.",
        [],
    ),
    (
        NL,
        "Verdachte wagen met Nederlandse plaat 12-ABC-3, bestuurder ca 1m80, 25 jaar. "
        "PV BR.12.L3.012345/2026.",
        "Verdachte wagen met Nederlandse plaat [nummerplaat], bestuurder ca 1m80, 25 jaar. "
        "PV BR.12.L3.012345/2026.",
        [],
    ),
    (
        NL,
        "Oplichters aan de deur sinds 12/05/2026, vragen 150 EUR contant, "
        "storten op BE71 0961 2345 6769. Witte bestelwagen 2 xyz 987.",
        "Oplichters aan de deur sinds 12/05/2026, vragen 150 EUR contant, "
        "storten op [rekeningnummer]. Witte bestelwagen [nummerplaat].",
        [],
    ),
    (
        NL,
        "Man gezien bij nr. 45, reed in wagen abc 123 weg met 120 km/u.",
        "Man gezien bij nr. 45, reed in wagen abc 123 weg met 120 km/u.",
        ["abc 123"],
    ),
    (
        NL,
        "Gezocht: persoon met rijksregisternummer 85.07.30-033.28, tel 0470 12 34 56.",
        "Gezocht: persoon met rijksregisternummer [rijksregisternummer], tel 0470 12 34 56.",
        [],
    ),
    (
        FR,
        "URGENT : cambriolage en cours au 12 rue de la Gare, bte 4, 4000 Liège. Véhicule "
        "français AB-123-CD, fuite vers 10h30. Appelez le 101.",
        "URGENT : cambriolage en cours au 12 rue de la Gare, bte 4, 4000 Liège. Véhicule "
        "français [plaque], fuite vers 10h30. Appelez le 101.",
        [],
    ),
    (
        FR,
        "Camionnette blanche 1-ABC-123 rue du Canal, puis ABC 123 rue Haute, au 12 rue Neuve.",
        "Camionnette blanche [plaque] rue du Canal, puis [plaque] rue Haute, au 12 rue Neuve.",
        [],
    ),
    (
        FR,
        "Voiture ancienne 123 ABC 75 et camionnette luxembourgeoise XY 1234 vues le 3 mai "
        "2026, montant volé € 1.200,50.",
        "Voiture ancienne [plaque] et camionnette luxembourgeoise [plaque] vues le 3 mai "
        "2026, montant volé € 1.200,50.",
        [],
    ),
    (
        FR,
        "Suspect au +32 470 12 34 56, voiture ab 123 cd, dossier n° 2026/4567.",
        "Suspect au +32 470 12 34 56, voiture [plaque], dossier n° 2026/4567.",
        [],
    ),
    (
        FR,
        "Compte du suspect FR14 2004 1010 0505 0001 3M02 606, voiture xyz 987.",
        "Compte du suspect [numéro de compte], voiture xyz 987.",
        ["xyz 987"],
    ),
    (
        DE,
        "EILT: Einbruch Hauptstraße 5, 4700 Eupen, um 22 Uhr. Täter flüchteten in einem "
        "schwarzen BMW mit Kennzeichen AC-XY 123, dann auf der E40. Notruf 112.",
        "EILT: Einbruch Hauptstraße 5, 4700 Eupen, um 22 Uhr. Täter flüchteten in einem "
        "schwarzen BMW mit Kennzeichen [Kennzeichen], dann auf der E40. Notruf 112.",
        [],
    ),
    (
        DE,
        "Verdächtiges Fahrzeug D-AB 1234 und ein Belgier 1 ABC 123, Aktenzeichen 123 Js 456/26.",
        "Verdächtiges Fahrzeug [Kennzeichen] und ein Belgier [Kennzeichen], Aktenzeichen "
        "123 Js 456/26.",
        [],
    ),
    (
        DE,
        "Wagen m-ab 1234 gesehen, Konto DE89 3704 0044 0532 0130 00, Tel. +49 241 123456.",
        "Wagen m-ab 1234 gesehen, Konto [Kontonummer], Tel. +49 241 123456.",
        ["m-ab 1234"],
    ),
]


@pytest.mark.parametrize(("language", "written", "sent", "asked"), CORPUS)
def test_realistic_alerts_go_out_masked_and_the_guard_asks_only_when_unsure(
    language: Language, written: str, sent: str, asked: list[str]
) -> None:
    guarded = guard_texts({language: written})
    assert guarded.texts[language] == sent
    assert [f.text for f in guarded.unresolved] == asked
