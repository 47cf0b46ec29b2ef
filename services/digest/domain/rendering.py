"""The digest as e-mail, per member language, from Jinja2 templates (the only place with
Dutch, French and German words)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from services.digest.domain.selection import NewsItem
from shared.events import Language, PoliceNewsCategory
from shared.events.digest import RenderedDigest

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
_environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)

SUBJECT = {
    Language.NL: "Politienieuws voor {bin} - {day}",
    Language.FR: "Nouvelles de la police pour {bin} - {day}",
    Language.DE: "Polizeinachrichten für {bin} - {day}",
}
PREFERENCES = {
    Language.NL: "Uw voorkeuren of uitschrijven",
    Language.FR: "Vos préférences ou désinscription",
    Language.DE: "Ihre Einstellungen oder Abmeldung",
}
CATEGORY = {
    Language.NL: {
        PoliceNewsCategory.TRAFFIC_ACCIDENT_WITH_INJURIES: "Verkeersongeval met gewonden",
        PoliceNewsCategory.DAMAGE_VANDALISM: "Beschadiging of vandalisme",
        PoliceNewsCategory.SMALL_THEFT: "Diefstal",
        PoliceNewsCategory.BURGLARY_HOME: "Woninginbraak",
        PoliceNewsCategory.BURGLARY_OTHER_BUILDING: "Inbraak in een gebouw",
    },
    Language.FR: {
        PoliceNewsCategory.TRAFFIC_ACCIDENT_WITH_INJURIES: "Accident de la route avec blessés",
        PoliceNewsCategory.DAMAGE_VANDALISM: "Dégradations ou vandalisme",
        PoliceNewsCategory.SMALL_THEFT: "Vol",
        PoliceNewsCategory.BURGLARY_HOME: "Cambriolage dans une habitation",
        PoliceNewsCategory.BURGLARY_OTHER_BUILDING: "Cambriolage dans un bâtiment",
    },
    Language.DE: {
        PoliceNewsCategory.TRAFFIC_ACCIDENT_WITH_INJURIES: "Verkehrsunfall mit Verletzten",
        PoliceNewsCategory.DAMAGE_VANDALISM: "Sachbeschädigung oder Vandalismus",
        PoliceNewsCategory.SMALL_THEFT: "Diebstahl",
        PoliceNewsCategory.BURGLARY_HOME: "Wohnungseinbruch",
        PoliceNewsCategory.BURGLARY_OTHER_BUILDING: "Einbruch in ein Gebäude",
    },
}


def render(
    bin_name: str,
    day: date,
    items: Sequence[NewsItem],
    language: Language,
    zone: ZoneInfo,
) -> RenderedDigest:
    shown = [
        {
            "label": CATEGORY[language][item.category],
            "place": item.place,
            "when": item.occurred_at.astimezone(zone).strftime("%d/%m %H:%M"),
            "published_info": item.published_info,
        }
        for item in items
    ]
    subject = SUBJECT[language].format(bin=bin_name, day=day.strftime("%d/%m/%Y"))
    context = {
        "bin_name": bin_name,
        "day": day.strftime("%d/%m/%Y"),
        "items": shown,
        "language": language.value,
        "subject": subject,
        "preferences_label": PREFERENCES[language],
    }
    return RenderedDigest(
        subject=subject,
        text=_environment.get_template(f"digest.{language.value}.txt").render(context),
        html=_environment.get_template("digest.html").render(context),
    )
