"""Member lists as CSV, the way coordinators keep them: one member a row, a header line.

Comma or semicolon separated (Belgian spreadsheets write semicolons); dates as YYYY-MM-DD or
DD/MM/YYYY; channels separated by spaces. Export writes the same columns, so a list
exported can be imported again.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from typing import Any

from pydantic import ValidationError

from services.registry.schemas import MemberCreate, MemberExport

COLUMNS = (
    "full_name",
    "birth_date",
    "street",
    "house_number",
    "box",
    "postal_code",
    "municipality",
    "relation",
    "phone",
    "phone2",
    "email",
    "language",
    "channels",
    "subsidised_sms",
    "registration_signed_on",
    "house_rules_version",
    "house_rules_accepted_on",
)
REQUIRED = frozenset(
    {
        "full_name",
        "birth_date",
        "street",
        "house_number",
        "municipality",
        "language",
        "registration_signed_on",
        "house_rules_version",
        "house_rules_accepted_on",
    }
)
MAX_ROWS = 200_000


class CsvProblem(ValueError):
    """The file as a whole cannot be read (not one bad row: those are reported per row)."""


def _date(value: str) -> str:
    """DD/MM/YYYY as ISO; anything else as it is, for pydantic to name the problem."""
    value = value.strip()
    parts = value.split("/")
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        day, month, year = parts
        return f"{year:0>4}-{month:0>2}-{day:0>2}"
    return value


def _flag(value: str) -> bool | str:
    lowered = value.strip().lower()
    if lowered in ("", "1", "true", "yes", "ja", "oui", "y", "j"):
        return True
    if lowered in ("0", "false", "no", "nee", "non", "n"):
        return False
    return value


def _candidate(row: dict[str, str]) -> dict[str, Any]:
    def get(key: str) -> str:
        return (row.get(key) or "").strip()

    return {
        "full_name": get("full_name"),
        "birth_date": _date(get("birth_date")),
        "address": {
            "street": get("street"),
            "house_number": get("house_number"),
            "box": get("box"),
            "postal_code": get("postal_code"),
            "municipality": get("municipality"),
        },
        "relation": get("relation") or "lives",
        "phones": [p for p in (get("phone"), get("phone2")) if p],
        "email": get("email") or None,
        "language": get("language").lower(),
        "channels": get("channels").lower().split(),
        "subsidised_sms": _flag(get("subsidised_sms")),
        "registration_signed_on": _date(get("registration_signed_on")),
        "house_rules_version": get("house_rules_version"),
        "house_rules_accepted_on": _date(get("house_rules_accepted_on")),
    }


def _reasons(error: ValidationError) -> list[str]:
    reasons = []
    for e in error.errors():
        where = ".".join(str(part) for part in e["loc"] if part != "address")
        reasons.append(f"{where}: {e['msg']}" if where else e["msg"])
    return reasons


def parse(text: str) -> Iterator[tuple[int, MemberCreate | list[str]]]:
    """Each data row with its line number: the candidate, or why the row is refused."""
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or not lines[0].strip():
        raise CsvProblem("the file is empty; the first line names the columns")
    delimiter = ";" if lines[0].count(";") > lines[0].count(",") else ","
    reader = csv.DictReader(io.StringIO("\n".join(lines)), delimiter=delimiter)
    header = {(name or "").strip() for name in reader.fieldnames or ()}
    if missing := sorted(REQUIRED - header):
        raise CsvProblem(f"the header lacks the columns: {', '.join(missing)}")
    if unknown := sorted(header - set(COLUMNS)):
        raise CsvProblem(f"unknown columns: {', '.join(unknown)} (known: {', '.join(COLUMNS)})")
    for n, raw in enumerate(reader):
        line = n + 2
        if n >= MAX_ROWS:
            raise CsvProblem(f"more than {MAX_ROWS} rows; split the file")
        row = {(k or "").strip(): v for k, v in raw.items() if isinstance(v, str)}
        if not any(v.strip() for v in row.values()):
            continue  # blank line
        try:
            yield line, MemberCreate.model_validate(_candidate(row))
        except ValidationError as error:
            yield line, _reasons(error)


def _cell(value: date | None) -> str:
    return value.isoformat() if value else ""


def export(members: list[MemberExport]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for m in members:
        a = m.address
        phones = [*m.phones, "", ""]
        writer.writerow(
            [
                m.full_name,
                _cell(m.birth_date),
                a.street if a else "",
                a.house_number if a else "",
                a.box if a else "",
                a.postal_code if a else "",
                a.municipality if a else "",
                m.relation.value if m.relation else "",
                phones[0],
                phones[1],
                m.email or "",
                m.language.value,
                " ".join(c.value for c in m.channels),
                "yes" if m.subsidised_sms else "no",
                _cell(m.registration_signed_on),
                m.house_rules_version or "",
                _cell(m.house_rules_accepted_on),
            ]
        )
    return out.getvalue()
