"""Check digits of personal identifiers, so that the privacy guard masks a real identifier for
certain and leaves a random run of digits alone.

* Belgian national register number (rijksregisternummer / numéro de registre national):
  ``YY.MM.DD-XXX.CC``; CC = 97 - (YYMMDDXXX mod 97), and for people born in 2000 or later
  97 - (2YYMMDDXXX mod 97). A month raised by 20 or 40 marks a BIS number, 00 an unknown
  birth date. https://nl.wikipedia.org/wiki/Rijksregisternummer,
  https://fr.wikipedia.org/wiki/Num%C3%A9ro_de_registre_national
* IBAN (ISO 13616-1): country code, two check digits, the national account number; moved
  four characters to the end and letters counted as 10 to 35, the number is 1 modulo 97.
  https://en.wikipedia.org/wiki/International_Bank_Account_Number
"""

from __future__ import annotations

# Lengths of the IBANs an alert in Belgium may quote: the neighbours and the usual others.
# A country not listed is still recognised when its check digits verify (15 to 34 long).
IBAN_LENGTHS = {
    "BE": 16, "NL": 18, "LU": 20, "FR": 27, "DE": 22, "AT": 20, "CH": 21, "ES": 24,
    "GB": 22, "IE": 22, "IT": 27, "PL": 28, "PT": 25, "RO": 24, "BG": 22, "LT": 20,
}  # fmt: skip
IBAN_MIN, IBAN_MAX = 15, 34


def national_register_number_valid(digits: str) -> bool:
    """Whether 11 digits are a national register number: a possible birth date (or a BIS
    number's shifted month) and the check digits of either century."""
    if len(digits) != 11 or not digits.isascii() or not digits.isdigit():
        return False
    month, day = int(digits[2:4]), int(digits[4:6])
    if month % 20 > 12 or month > 52 or day > 31:
        return False
    body, check = int(digits[:9]), int(digits[9:])
    return check in (97 - body % 97, 97 - (2_000_000_000 + body) % 97)


def iban_valid(compact: str) -> bool:
    """Whether an IBAN without spaces verifies (ISO 13616 mod 97, case-insensitive)."""
    compact = compact.upper()
    if not (IBAN_MIN <= len(compact) <= IBAN_MAX) or not compact.isascii():
        return False
    if not (compact[:2].isalpha() and compact[2:4].isdigit() and compact.isalnum()):
        return False
    if (expected := IBAN_LENGTHS.get(compact[:2])) is not None and len(compact) != expected:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1
