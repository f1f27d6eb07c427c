"""dlbook.torch.scaling: power-law fits recover known laws; compute counts."""

import math

import numpy as np
import pytest

from dlbook.torch.scaling import (
    CHINCHILLA_TOKENS_PER_PARAM,
    PowerLaw,
    compute_optimal,
    fit_power_law,
    train_flops,
)

N = np.geomspace(1e3, 1e5, 7)


@pytest.mark.parametrize("alpha, A, E", [(0.076, 8.8, 1.7), (0.5, 40.0, 0.3),
                                         (0.3, 12.0, 2.5), (1.2, 3e3, 1.0)])
def test_exact_data_give_back_the_law(alpha, A, E):
    fit = fit_power_law(N, E + A * N ** -alpha)
    assert fit.exponent == pytest.approx(alpha, rel=1e-6)
    assert fit.coefficient == pytest.approx(A, rel=1e-5)
    assert fit.irreducible == pytest.approx(E, rel=1e-6, abs=1e-9)


def test_a_plain_power_law_is_a_straight_line_in_log_log():
    loss = 5.0 * N ** -0.25
    fit = fit_power_law(N, loss, irreducible=False)
    assert fit.irreducible == 0.0
    assert fit.exponent == pytest.approx(0.25, rel=1e-12)
    assert fit.coefficient == pytest.approx(5.0, rel=1e-12)
    # with a floor allowed, data without one get a floor of (almost) zero
    assert fit_power_law(N, loss).irreducible < 1e-6


def test_the_fit_predicts_and_is_called_on_arrays():
    law = PowerLaw(exponent=0.5, coefficient=2.0, irreducible=1.0)
    assert law(4.0) == pytest.approx(2.0)
    assert np.allclose(law(np.array([1.0, 100.0])), [3.0, 1.2])
    assert "x^0.5" in repr(law)


def test_noisy_data_give_an_exponent_near_the_truth():
    # 2% multiplicative noise on 9 points over two decades: the fit lands near
    # the true exponent, and no worse than 1e-3 above the best possible error
    rng = np.random.default_rng(0)
    x = np.geomspace(1e3, 1e5, 9)
    truth = 1.5 + 20.0 * x ** -0.35
    loss = truth * np.exp(0.02 * rng.standard_normal(x.size))
    fit = fit_power_law(x, loss)
    assert 0.2 < fit.exponent < 0.6
    sse = np.sum((np.log(fit(x)) - np.log(loss)) ** 2)
    assert sse <= np.sum((np.log(truth) - np.log(loss)) ** 2) + 1e-3


def test_three_points_fit_exactly():
    x = np.array([10.0, 100.0, 1000.0])
    loss = 1.0 + 3.0 * x ** -0.5
    fit = fit_power_law(x, loss)
    assert np.allclose(fit(x), loss, rtol=1e-8)


@pytest.mark.parametrize("x, loss, message", [
    ([1.0, 2.0, -3.0], [3.0, 2.0, 1.0], "every x must be positive"),
    ([1.0, 2.0, 3.0], [3.0, 0.0, 1.0], "every loss must be positive"),
    ([1.0, 2.0, np.nan], [3.0, 2.0, 1.0], "every x must be positive and finite"),
    ([1.0, 2.0, 3.0], [3.0, 2.0], "same length, got 3 and 2"),
    ([1.0, 2.0], [3.0, 2.0], "needs at least 3 points, got 2"),
    ([5.0, 5.0, 5.0], [3.0, 2.0, 1.0], "two distinct x"),
    ([[1.0, 2.0, 3.0]], [[3.0, 2.0, 1.0]], "one-dimensional"),
])
def test_bad_input_is_refused_with_a_clear_message(x, loss, message):
    with pytest.raises(ValueError, match=message) as err:
        fit_power_law(x, loss)
    assert "fit_power_law" in str(err.value)


def test_a_plain_power_law_needs_two_points():
    with pytest.raises(ValueError, match="A / x\\*\\*alpha has 2 parameters"):
        fit_power_law([10.0], [1.0], irreducible=False)
    assert fit_power_law([10.0, 100.0], [1.0, 0.5], irreducible=False).exponent \
        == pytest.approx(math.log10(2))


def test_train_flops_is_six_n_d():
    # GPT-3: 175e9 parameters on 300e9 tokens, 3.15e23 FLOPs (Brown et al. 2020)
    assert train_flops(175e9, 300e9) == pytest.approx(3.15e23)
    assert np.allclose(train_flops(np.array([1.0, 2.0]), 10), [60.0, 120.0])
    with pytest.raises(ValueError, match="train_flops: n_tokens must be positive"):
        train_flops(10, 0)
    with pytest.raises(ValueError, match="n_params"):
        train_flops(-1, 10)


def test_compute_optimal_splits_the_budget_at_twenty_tokens_per_parameter():
    # Chinchilla: 70e9 parameters and 1.4e12 tokens, 5.88e23 FLOPs
    n, d = compute_optimal(train_flops(70e9, 1.4e12))
    assert n == pytest.approx(70e9) and d == pytest.approx(1.4e12)
    assert CHINCHILLA_TOKENS_PER_PARAM == 20.0
    # both grow as the square root of compute
    n4, d4 = compute_optimal(4 * train_flops(70e9, 1.4e12))
    assert n4 / n == pytest.approx(2.0) and d4 / d == pytest.approx(2.0)
    n, d = compute_optimal(600.0, tokens_per_param=1.0)
    assert (n, d) == (pytest.approx(10.0), pytest.approx(10.0))
    with pytest.raises(ValueError, match="compute_optimal: flops must be positive"):
        compute_optimal(0.0)
    with pytest.raises(ValueError, match="tokens_per_param"):
        compute_optimal(1e20, tokens_per_param=-2)
