"""NIST StRD linear regression problems (Longley, Wampler 1, Wampler 2): certified values.

The data and certified values are typed from NIST's Statistical Reference Datasets pages
(https://www.itl.nist.gov/div898/strd/lls/lls.shtml). Accuracy is the log relative error
(LRE, McCullough 1998): the number of correct significant digits, ``-log10(|x - c| / |c|)``,
or ``-log10(|x|)`` where the certified value is 0. statsmodels' OLS on the same problems is
reported beside ours (``pytest -s`` prints the table) and must not beat us.
"""

import math

import numpy as np
import pytest
import statsmodels.api as sm

from rxgrid.analytics import lin_mod, map_sequential, write_dataset

# Longley (1967): y = total employment; x1 GNP deflator, x2 GNP, x3 unemployed, x4 armed
# forces, x5 population, x6 year.
LONGLEY = """
60323 83.0 234289 2356 1590 107608 1947
61122 88.5 259426 2325 1456 108632 1948
60171 88.2 258054 3682 1616 109773 1949
61187 89.5 284599 3351 1650 110929 1950
63221 96.2 328975 2099 3099 112075 1951
63639 98.1 346999 1932 3594 113270 1952
64989 99.0 365385 1870 3547 115094 1953
63761 100.0 363112 3578 3350 116219 1954
66019 101.2 397469 2904 3048 117388 1955
67857 104.6 419180 2822 2857 118734 1956
68169 108.4 442769 2936 2798 120445 1957
66513 110.8 444546 4681 2637 121950 1958
68655 112.6 482704 3813 2552 123366 1959
69564 114.2 502601 3931 2514 125368 1960
69331 115.7 518173 4806 2572 127852 1961
70551 116.9 554894 4007 2827 130081 1962
"""
LONGLEY_B = [-3482258.63459582, 15.0618722713733, -0.358191792925910e-01, -2.02022980381683,
             -1.03322686717359, -0.511041056535807e-01, 1829.15146461355]  # fmt: skip
LONGLEY_SE = [890420.383607373, 84.9149257747669, 0.334910077722432e-01, 0.488399681651699,
              0.214274163161675, 0.226073200069370, 455.478499142212]  # fmt: skip
LONGLEY_SD, LONGLEY_R2 = 304.854073561965, 0.995479004577296

# Wampler 1 and 2: degree-5 polynomials in x = 0, 1, ..., 20, fitted exactly.
WAMPLER_X = list(range(21))
WAMPLER1_Y = [1, 6, 63, 364, 1365, 3906, 9331, 19608, 37449, 66430, 111111, 177156, 271453, 402234,
              579195, 813616, 1118481, 1508598, 2000719, 2613660, 3368421]  # fmt: skip
WAMPLER2_Y = [1.00000, 1.11111, 1.24992, 1.42753, 1.65984, 1.96875, 2.38336, 2.94117, 3.68928, 4.68559,
              6.00000, 7.71561, 9.92992, 12.75603, 16.32384, 20.78125, 26.29536, 33.05367, 41.26528,
              51.16209, 63.00000]  # fmt: skip
WAMPLER1_B = [1.0] * 6
WAMPLER2_B = [1.0, 0.1, 0.01, 0.001, 0.0001, 0.00001]
POLY = "y ~ x + I(x**2) + I(x**3) + I(x**4) + I(x**5)"


def lre(estimate, certified) -> float:
    """Smallest log relative error over the values (absolute where certified is 0), capped at 15."""
    worst = 15.0
    for e, c in zip(np.ravel(estimate), np.ravel(certified), strict=True):
        error = abs(e - c) / abs(c) if c != 0 else abs(e)
        worst = min(worst, -math.log10(error) if error > 0 else 15.0)
    return worst


def longley_columns():
    rows = np.array([line.split() for line in LONGLEY.strip().splitlines()], dtype=float)
    return {"y": rows[:, 0], **{f"x{j}": rows[:, j] for j in range(1, 7)}}


def test_longley_typed_data_is_statsmodels_bundled_copy():
    bundled = sm.datasets.longley.load_pandas().data
    columns = longley_columns()
    np.testing.assert_array_equal(columns["y"], bundled["TOTEMP"])
    for j, name in enumerate(["GNPDEFL", "GNP", "UNEMP", "ARMED", "POP", "YEAR"], 1):
        np.testing.assert_array_equal(columns[f"x{j}"], bundled[name])


def _problems(tmp_path):
    longley = longley_columns()
    x = np.array(WAMPLER_X, dtype=float)
    return {
        "Longley": (longley, "y ~ x1 + x2 + x3 + x4 + x5 + x6", LONGLEY_B, LONGLEY_SE),
        "Wampler1": ({"x": x, "y": np.array(WAMPLER1_Y, dtype=float)}, POLY, WAMPLER1_B, [0.0] * 6),
        "Wampler2": ({"x": x, "y": np.array(WAMPLER2_Y, dtype=float)}, POLY, WAMPLER2_B, [0.0] * 6),
    }


def _statsmodels(columns, formula):
    y = columns["y"]
    if "x1" in columns:
        X = np.column_stack([np.ones(len(y))] + [columns[f"x{j}"] for j in range(1, 7)])
    else:
        X = np.column_stack([columns["x"] ** k for k in range(6)])
    return sm.OLS(y, X).fit()


TARGETS = {"Longley": 11.0, "Wampler1": 9.0, "Wampler2": 9.0}


@pytest.mark.parametrize("block_rows", [1_000, 5])
def test_nist_certified_values_beyond_statsmodels(tmp_path, block_rows, capsys):
    lines = [f"{'problem':9} {'blocks':>6} {'ours b':>7} {'ours se':>7} {'sm b':>6} {'sm se':>6}"]
    for name, (columns, formula, b, se) in _problems(tmp_path).items():
        path = tmp_path / f"{name}-{block_rows}"
        write_dataset(path, columns, block_rows=block_rows)
        fit = lin_mod(formula, path, map_blocks=map_sequential)
        reference = _statsmodels(columns, formula)
        ours = (lre(fit.params, b), lre(fit.bse, se))
        theirs = (lre(reference.params, b), lre(reference.bse, se))
        lines.append(f"{name:9} {-(-len(columns['y']) // block_rows):6d} {ours[0]:7.1f} {ours[1]:7.1f} "
                     f"{theirs[0]:6.1f} {theirs[1]:6.1f}")  # fmt: skip
        assert ours[0] >= TARGETS[name], (name, ours)
        assert ours[1] >= TARGETS[name], (name, ours)
        assert ours[0] >= theirs[0] - 0.5, (name, ours, theirs)
        if name == "Longley":
            assert lre(fit.resid_std_err, LONGLEY_SD) >= 11
            assert lre(fit.rsquared, LONGLEY_R2) >= 11
    with capsys.disabled():
        print("\nNIST StRD LRE (digits correct):\n" + "\n".join(lines))
