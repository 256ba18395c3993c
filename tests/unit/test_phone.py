import pytest
from hypothesis import given
from hypothesis import strategies as st

from tgsessions.domain.errors import InvalidInput
from tgsessions.domain.phone import normalise_phone


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+1 (555) 010-9999", "15550109999"),
        ("00447700900123", "447700900123"),
        ("79161234567", "79161234567"),
        (79161234567, "79161234567"),
        ("  +49.30.1234567 ", "49301234567"),
    ],
)
def test_normalises_to_digits(raw: object, expected: str) -> None:
    assert normalise_phone(raw) == expected


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("", "empty"),
        ("+", "empty"),
        ("12ab3456789", "only digits"),
        ("123456", "too short"),
        ("1234567890123456", "too long"),
        ("0161234567", "international format"),
        ("٧٩١٦١٢٣٤٥٦٧", "only digits"),
        (None, "must be a string"),
        (True, "must be a string"),
        ("+7 916 123\n4567", "only digits"),
    ],
)
def test_rejects_with_a_reason(raw: object, why: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalise_phone(raw)
    assert why in caught.value.message
    assert caught.value.field == "mobile"


@given(st.text(max_size=40))
def test_any_text_is_either_digits_or_invalid_input(text: str) -> None:
    try:
        result = normalise_phone(text)
    except InvalidInput:
        return
    assert result.isdigit() and 7 <= len(result) <= 15 and not result.startswith("0")
