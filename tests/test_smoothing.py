"""The smoothing matches TensorBoard's debiased EMA, computed the way its dashboard does."""

import numpy as np
import pytest

from radiovae.analysis.smoothing import ema_smooth


def _tensorboard(y, w):
    # TensorBoard's scalar-card smoothing, transcribed as a plain loop
    last, k, out = 0.0, 0, []
    for v in y:
        if not np.isfinite(v):
            out.append(v)
            continue
        last = last * w + (1 - w) * v
        k += 1
        out.append(last / (1 - w ** k))
    return np.array(out)


@pytest.mark.parametrize("w", [0.0, 0.6, 0.9, 0.999])
def test_matches_tensorboard_loop(w):
    rng = np.random.default_rng(0)
    y = rng.normal(size=500).cumsum()
    y[[3, 40, 41]] = [np.nan, np.inf, np.nan]
    got = ema_smooth(y, w)
    want = _tensorboard(y, w) if w else y
    np.testing.assert_allclose(got, want, rtol=1e-9, equal_nan=True)


def test_first_point_is_not_pulled_to_zero_and_constant_is_kept():
    assert ema_smooth(np.array([10.0, 10.0, 10.0])).tolist() == [10.0, 10.0, 10.0]
    assert ema_smooth(np.array([10.0, 20.0]))[0] == pytest.approx(10.0)


def test_bad_weight_is_refused():
    with pytest.raises(ValueError):
        ema_smooth(np.ones(3), 1.0)


def test_ema_last_equals_the_whole_series_ema():
    """The tail shortcut gives the smoothed latest of the whole series (to float precision)."""
    import numpy as np

    from radiovae.analysis.smoothing import ema_last, ema_smooth

    rng = np.random.default_rng(0)
    for n in (1, 5, 2000, 50_000):
        v = 6000 * np.exp(-np.arange(n) / 300) + rng.standard_normal(n)
        for w in (0.0, 0.6, 0.9, 0.99):
            assert ema_last(v, w) == pytest.approx(float(ema_smooth(v, w)[-1]), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("n", [5, 999, 1001, 123_457, 500_003])
def test_smoothed_latest_is_where_the_grouped_line_ends(n):
    """smoothed_last reads only the EMA's last groups: the same number as the figures' whole
    grouped line, with NaN records and every weight; the plain TensorBoard loop over the group
    means agrees too."""
    from radiovae.analysis.smoothing import group_size, grouped_ema, smoothed_last

    rng = np.random.default_rng(n)
    y = rng.normal(size=n).cumsum() + 50
    y[rng.random(n) < 0.3] = np.nan
    for w in (0.0, 0.6, 0.9, 0.99):
        line = grouped_ema(y, w)
        assert smoothed_last(y, w) == pytest.approx(line[np.isfinite(line)][-1], rel=1e-12)
    size = group_size(n)
    groups = [g[np.isfinite(g)] for g in np.array_split(y, range(size, n, size))]
    means = np.array([g.mean() for g in groups if len(g)])
    assert smoothed_last(y, 0.6) == pytest.approx(_tensorboard(means, 0.6)[-1], rel=1e-9)
