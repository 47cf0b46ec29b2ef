import email_validator
import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from services.registry.domain.contact import (
    InvalidEmail,
    InvalidPhoneNumber,
    normalise_email,
    normalise_phone,
)
from services.registry.schemas import MemberCreate


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("0470 12 34 56", "+32470123456"),
        ("0470/12.34.56", "+32470123456"),
        ("+32 470 12 34 56", "+32470123456"),
        ("0032470123456", "+32470123456"),
        ("016 12 34 56", "+3216123456"),
        ("+31 6 12345678", "+31612345678"),
    ],
)
def test_phone_numbers_are_normalised_to_e164(raw: str, e164: str) -> None:
    assert normalise_phone(raw) == e164


@pytest.mark.parametrize("raw", ["12", "hello", "0470 12", "+32 999 99 99 99 99"])
def test_invalid_numbers_are_refused(raw: str) -> None:
    with pytest.raises(InvalidPhoneNumber):
        normalise_phone(raw)


def test_member_form_refuses_bad_email_and_phone_with_a_reason() -> None:
    with pytest.raises(ValidationError) as caught:
        MemberCreate.model_validate(
            {"full_name": "An", "phones": ["12"], "email": "not-an-email", "language": "nl"}
        )
    text = str(caught.value)
    assert "phones" in text and "email" in text


@given(st.integers(0, 99_999_999), st.sampled_from(["0", "+32", "0032"]))
def test_the_fast_belgian_mobile_path_agrees_with_phonenumbers(suffix: int, prefix: str) -> None:
    raw = f"{prefix}4{suffix:08d}"
    parsed = phonenumbers.parse(raw, "BE")
    expected = (
        phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        if phonenumbers.is_valid_number(parsed)
        else None
    )
    try:
        found: str | None = normalise_phone(raw)
    except InvalidPhoneNumber:
        found = None
    assert found == expected


_LOCAL = st.from_regex(r"[A-Za-z0-9._%+'-]{1,70}", fullmatch=True)
_DOMAIN = st.from_regex(r"([A-Za-z0-9-]{1,20}\.){1,3}[A-Za-z0-9]{1,10}", fullmatch=True)


@given(_LOCAL, _DOMAIN)
def test_the_fast_email_path_agrees_with_email_validator(local: str, domain: str) -> None:
    raw = f"{local}@{domain}"
    try:
        expected: str | None = email_validator.validate_email(
            raw, check_deliverability=False
        ).normalized
    except email_validator.EmailNotValidError:
        expected = None
    try:
        found: str | None = normalise_email(raw)
    except InvalidEmail:
        found = None
    assert found == expected


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("An.Peeters@Voorbeeld.BE", "An.Peeters@voorbeeld.be"),
        ("lid+bin@sub.gemeente.be", "lid+bin@sub.gemeente.be"),
        ("jose@café.be", "jose@café.be"),  # internationalised: through email-validator
    ],
)
def test_emails_are_normalised(raw: str, normalised: str) -> None:
    assert normalise_email(raw) == normalised


@pytest.mark.parametrize("raw", ["an@localhost", "an@x.test", "a..b@v.be", "an@-v.be", "@v.be"])
def test_invalid_emails_are_refused(raw: str) -> None:
    with pytest.raises(InvalidEmail):
        normalise_email(raw)
