"""NHS numbers, postcodes, phone numbers and email addresses: what is accepted, how it is stored, what is refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import ValidationError
from core.validation.contact import normalise_email, normalise_phone, normalise_postcode, postcode_key
from core.validation.nhs_number import format_nhs_number, nhs_check_digit, normalise_nhs_number

bodies = st.text(alphabet="0123456789", min_size=9, max_size=9)
valid_numbers = bodies.filter(lambda b: nhs_check_digit(b) is not None).map(lambda b: b + str(nhs_check_digit(b)))


# -- NHS number ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["9434765919", "4010232137", "9434765870"])
def test_valid_nhs_numbers(number: str) -> None:
    assert normalise_nhs_number(number) == number


@pytest.mark.parametrize("typed", ["943 476 5919", " 943-476-5919 ", "943 4765919"])
def test_nhs_number_spaces_and_dashes_are_accepted(typed: str) -> None:
    assert normalise_nhs_number(typed) == "9434765919"
    assert format_nhs_number("9434765919") == "943 476 5919"


def test_check_digit_eleven_becomes_zero() -> None:
    # 9*10 + 4*9 + 3*8 + 4*7 + 7*6 + 6*5 + 5*4 + 9*3 + 0*2 = 297 = 27 * 11: 11 - 0 = 11, written as 0
    assert nhs_check_digit("943476590") == 0
    assert normalise_nhs_number("9434765900") == "9434765900"
    with pytest.raises(ValidationError, match="check digit"):
        normalise_nhs_number("9434765901")


def test_check_digit_ten_is_never_valid() -> None:
    # 1*10 + 2*9 + ... + 9*2 = 210; 210 mod 11 = 1; 11 - 1 = 10: no check digit makes this body valid
    assert nhs_check_digit("123456789") is None
    for last in "0123456789":
        with pytest.raises(ValidationError, match="check digit"):
            normalise_nhs_number("123456789" + last)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("9434765918", "check digit"),  # wrong check digit
        ("4010232138", "check digit"),
        ("943476591", "10 digits"),  # too short
        ("94347659190", "10 digits"),  # too long
        ("943476591A", "10 digits"),  # a letter
        ("ABCDEFGHIJ", "10 digits"),
        ("", "10 digits"),
        ("９４３４７６５９１９", "10 digits"),  # full-width digits are not ASCII digits
    ],
)
def test_invalid_nhs_numbers(text: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        normalise_nhs_number(text)


@given(valid_numbers)
def test_numbers_with_a_valid_check_digit_always_pass(number: str) -> None:
    assert normalise_nhs_number(number) == number
    assert normalise_nhs_number(format_nhs_number(number)) == number


@given(valid_numbers, st.integers(0, 9), st.integers(1, 9))
def test_any_single_digit_error_is_caught(number: str, position: int, delta: int) -> None:
    wrong = number[:position] + str((int(number[position]) + delta) % 10) + number[position + 1 :]
    with pytest.raises(ValidationError):
        normalise_nhs_number(wrong)


@given(valid_numbers, st.integers(0, 7))
def test_swapping_two_neighbouring_digits_is_caught(number: str, position: int) -> None:
    a, b = number[position], number[position + 1]
    if a == b:
        return
    swapped = number[:position] + b + a + number[position + 2 :]
    with pytest.raises(ValidationError):
        normalise_nhs_number(swapped)


# -- postcode --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("GIR 0AA", "GIR 0AA"),
        ("gir0aa", "GIR 0AA"),
        ("SW1A 1AA", "SW1A 1AA"),
        ("ls1 4ap", "LS1 4AP"),
        ("LS14AP", "LS1 4AP"),
        ("  m1   1ae ", "M1 1AE"),
        ("B33 8TH", "B33 8TH"),
        ("CR2 6XH", "CR2 6XH"),
        ("DN55 1PT", "DN55 1PT"),
        ("EC1A 1BB", "EC1A 1BB"),
        ("W1A 0AX", "W1A 0AX"),
    ],
)
def test_valid_postcodes_are_normalised(typed: str, stored: str) -> None:
    assert normalise_postcode(typed) == stored
    assert postcode_key(typed) == stored.replace(" ", "")


@pytest.mark.parametrize(
    "text", ["LS1", "4AP", "12345", "QS1 1AA", "LS1 4CI", "SW1A 1AAA", "LS1-4AP", "", "   ", "LS1 4A", "L 4AP"]
)
def test_invalid_postcodes(text: str) -> None:
    with pytest.raises(ValidationError, match="not a UK postcode"):
        normalise_postcode(text)


# -- phone -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("0113 496 0000", "01134960000"),
        ("+44 113 496 0000", "01134960000"),
        ("+44 (0)113 496 0000", "01134960000"),
        ("0044 113 496 0000", "01134960000"),
        ("07700 900123", "07700900123"),
        ("+447700900123", "07700900123"),
        ("(01632) 960-001", "01632960001"),
    ],
)
def test_uk_phone_numbers_are_normalised(typed: str, stored: str) -> None:
    assert normalise_phone(typed) == stored


@pytest.mark.parametrize("text", ["12345", "+1 212 555 0100", "0113 496 000a", "", "01134", "+44", "1134960000"])
def test_invalid_phone_numbers(text: str) -> None:
    with pytest.raises(ValidationError, match="not a UK phone number"):
        normalise_phone(text)


# -- email -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("jane.smith@example.org", "jane.smith@example.org"),
        ("  Jane.Smith@Example.NHS.uk ", "Jane.Smith@example.nhs.uk"),
        ("o'brien+rx@mail.example.co.uk", "o'brien+rx@mail.example.co.uk"),
    ],
)
def test_email_addresses(typed: str, stored: str) -> None:
    assert normalise_email(typed) == stored


@pytest.mark.parametrize("text", ["jane", "jane@", "@example.org", "jane smith@example.org", "jane@localhost", ""])
def test_invalid_email_addresses(text: str) -> None:
    with pytest.raises(ValidationError, match="not an email address"):
        normalise_email(text)
