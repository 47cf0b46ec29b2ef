import pytest
from pydantic import ValidationError

from services.registry.domain.contact import InvalidPhoneNumber, normalise_phone
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
