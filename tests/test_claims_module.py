"""dlbook.claims and the seed helpers of dlbook.utils."""

import pytest

from dlbook import claims, utils


@pytest.mark.parametrize(
    "text, value, ok",
    [
        ("0.81", 0.8149, True),
        ("0.81", 0.8151, False),
        ("about 2", 1.6, True),
        ("about 2", 2.6, False),
        ("2,871 words", 2871, True),
        ("3.4e-12", 3.44e-12, True),
        ("3.4e-12", 3.46e-12, False),
        ("81%", 80.6, True),
        ("−0.5", -0.5, True),
    ],
)
def test_agrees_rounds_to_the_quoted_digits(text, value, ok):
    assert claims.agrees(value, text) is ok


def test_quote_needs_a_number():
    with pytest.raises(ValueError, match="no number"):
        claims.quote(1.0, "about one")


def test_quote_returns_its_value_and_prints_outside_ipython(capsys):
    assert claims.quote(0.8123, "0.81") == 0.8123
    assert "agrees" in capsys.readouterr().out
    claims.quote(0.9, "0.81")
    assert "differs" in capsys.readouterr().out


def test_spread_summarises_seeds():
    s = claims.Spread.of([0.8, 0.9, 1.0])
    assert (s.mean, s.min, s.max) == pytest.approx((0.9, 0.8, 1.0))
    assert s.std == pytest.approx(0.1)
    assert "3 seeds" in str(s)
    with pytest.raises(ValueError):
        claims.Spread.of([])


def test_book_seed_reads_the_environment(monkeypatch):
    monkeypatch.delenv("DLBOOK_SEED", raising=False)
    assert utils.book_seed(3) == 3
    monkeypatch.setenv("DLBOOK_SEED", "17")
    assert utils.book_seed(3) == 17
    monkeypatch.setenv("DLBOOK_SEED", "seventeen")
    with pytest.raises(ValueError, match="DLBOOK_SEED"):
        utils.book_seed(0)


def test_seeds_are_distinct_and_start_at_base():
    assert utils.seeds(3, 10) == [10, 11, 12]
    with pytest.raises(ValueError):
        utils.seeds(0, 1)
