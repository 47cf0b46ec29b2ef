"""An alert as an OASIS Common Alerting Protocol 1.2 message, for other alerting systems.

Element order follows the CAP 1.2 schema (it is a sequence). The scope is Restricted: a BIN
alert is for the members of the named BINs, not for the public.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
LOCALE = {"nl": "nl-BE", "fr": "fr-BE", "de": "de-BE"}
EVENT = {"nl": "BIN-alarm", "fr": "Alerte PLP", "de": "BIN-Alarm"}


@dataclass(frozen=True)
class CapAlert:
    alert_id: uuid.UUID
    sender: str
    sender_name: str
    sent: datetime
    texts: dict[str, str]
    bin_names: list[str]
    expires: datetime | None = None
    cancelled: bool = False
    # The alert this one follows up (an Update referencing it).
    follows: CapReference | None = None


@dataclass(frozen=True)
class CapReference:
    alert_id: uuid.UUID
    sent: datetime


def _time(moment: datetime) -> str:
    # CAP wants "2026-11-23T18:00:00+00:00": seconds, and an explicit offset (never "Z").
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def identifier(alert_id: uuid.UUID) -> str:
    return f"urn:uuid:{alert_id}"


def render(alert: CapAlert) -> str:
    ET.register_namespace("", CAP_NS)

    def sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
        element = ET.SubElement(parent, f"{{{CAP_NS}}}{tag}")
        if text is not None:
            element.text = text
        return element

    root = ET.Element(f"{{{CAP_NS}}}alert")
    sub(root, "identifier", identifier(alert.alert_id))
    sub(root, "sender", alert.sender)
    sub(root, "sent", _time(alert.sent))
    sub(root, "status", "Actual")
    msg_type = "Cancel" if alert.cancelled else "Update" if alert.follows else "Alert"
    sub(root, "msgType", msg_type)
    sub(root, "scope", "Restricted")
    sub(root, "restriction", "Members of the named buurtinformatienetwerken (BIN) only")
    if alert.follows is not None:
        original = alert.follows
        sub(
            root,
            "references",
            f"{alert.sender},{identifier(original.alert_id)},{_time(original.sent)}",
        )
    for language, text in sorted(alert.texts.items()):
        info = sub(root, "info")
        sub(info, "language", LOCALE.get(language, language))
        sub(info, "category", "Security")
        sub(info, "event", EVENT.get(language, EVENT["nl"]))
        sub(info, "urgency", "Past" if alert.cancelled else "Immediate")
        sub(info, "severity", "Moderate")
        sub(info, "certainty", "Observed")
        if alert.expires is not None:
            sub(info, "expires", _time(alert.expires))
        sub(info, "senderName", alert.sender_name)
        sub(info, "description", text)
        area = sub(info, "area")
        sub(area, "areaDesc", ", ".join(alert.bin_names) or "BIN")
    return ET.tostring(root, encoding="unicode", xml_declaration=True)
