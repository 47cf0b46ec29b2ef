import pytest

from services.registry.member_csv import CsvProblem, export, parse
from services.registry.schemas import MemberCreate, MemberExport

HEADER = (
    "full_name;birth_date;street;house_number;box;postal_code;municipality;phone;email;"
    "language;registration_signed_on;house_rules_version;house_rules_accepted_on"
)


def test_rows_are_read_with_semicolons_and_belgian_dates() -> None:
    text = (
        HEADER
        + "\nAn Peeters;17/05/1980;Abdijstraat;12;;3010;Leuven;0470 12 34 56;an@voorbeeld.be;NL;"
        "10/01/2026;2024-1;10/01/2026\n"
    )
    [(line, member)] = list(parse(text))
    assert line == 2
    assert isinstance(member, MemberCreate)
    assert member.phones == ["+32470123456"]
    assert member.birth_date.isoformat() == "1980-05-17"


def test_a_bad_row_is_reported_with_its_line_and_every_reason() -> None:
    text = (
        HEADER
        + "\nAn;1980-05-17;Abdijstraat;12;;3010;Leuven;0470 12 34 56;;nl;2026-01-10;1;2026-01-10"
        + "\nBert;geen datum;Abdijstraat;14;;3010;Leuven;12;niet-mail;xx;2026-01-10;1;2026-01-10"
        + "\n;;;;;;;;;;;;\n"
    )
    rows = list(parse(text))
    assert len(rows) == 2  # the blank line is skipped
    line, reasons = rows[1]
    assert line == 3 and isinstance(reasons, list)
    joined = " ".join(reasons)
    for field in ("birth_date", "phones", "email", "language"):
        assert field in joined


def test_a_file_without_the_needed_columns_is_refused_as_a_whole() -> None:
    with pytest.raises(CsvProblem, match="lacks the columns: birth_date"):
        list(parse("full_name,street\nAn,Abdijstraat\n"))
    with pytest.raises(CsvProblem, match="empty"):
        list(parse(""))


def test_an_export_reads_back_as_the_same_members() -> None:
    text = (
        HEADER
        + "\nAn Peeters;1980-05-17;Abdijstraat;12;;3010;Leuven;0470 12 34 56;an@voorbeeld.be;fr;"
        "2026-01-10;2024-1;2026-01-10\n"
    )
    [(_, member)] = list(parse(text))
    assert isinstance(member, MemberCreate)
    exported = MemberExport.model_validate(
        {
            **member.model_dump(),
            "member_id": "00000000-0000-0000-0000-000000000001",
            "bin_id": "00000000-0000-0000-0000-000000000002",
            "joined_at": "2026-01-10T10:00:00Z",
            "updated_at": "2026-01-10T10:00:00Z",
        }
    )
    [(_, again)] = list(parse(export([exported])))
    assert again == member
