import pickle

import pytest

from tgsessions.domain.secret import Secret


def test_secret_never_shows_its_value() -> None:
    secret = Secret("1BVtsOKABu-very-secret")
    for text in (repr(secret), str(secret), f"{secret}", repr([secret]), repr({"s": secret})):
        assert "very-secret" not in text
    assert secret.reveal() == "1BVtsOKABu-very-secret"


def test_secret_equality_and_hash_follow_the_value() -> None:
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")
    assert len({Secret("a"), Secret("a")}) == 1


def test_secret_refuses_pickling_and_non_strings() -> None:
    with pytest.raises(TypeError):
        pickle.dumps(Secret("x"))
    with pytest.raises(TypeError):
        Secret(b"x")  # type: ignore[arg-type]
