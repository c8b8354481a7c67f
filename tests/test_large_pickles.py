"""A function or argument that pickles large in band warns with its size and what to do."""

from __future__ import annotations

import logging

import numpy as np

from tests import fixtures

BIG = 11_000_000  # just above the 10 MB threshold


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno == logging.WARNING and "pickled in band" in r.getMessage()]


def test_a_closure_over_large_data_warns_and_says_to_pass_it_as_an_argument(cluster1, caplog):
    data = b"x" * BIG
    caplog.set_level(logging.WARNING, logger="rxgrid.client")
    assert cluster1.exec(lambda: len(data)) == [BIG]
    (message,) = _warnings(caplog)
    assert message.startswith("the function: 11 MB pickled in band") and "as an argument" in message


def test_a_large_common_argument_warns_and_names_the_ways_around(cluster1, caplog):
    caplog.set_level(logging.WARNING, logger="rxgrid.client")
    assert cluster1.exec(len, list(range(BIG // 5))) == [BIG // 5]
    (message,) = _warnings(caplog)
    assert message.startswith("the common arguments:") and "numpy" in message and "path" in message


def test_numpy_arrays_travel_out_of_band_and_small_pickles_stay_quiet(cluster1, caplog):
    caplog.set_level(logging.WARNING, logger="rxgrid.client")
    array = np.ones(BIG // 8 + 1000)
    assert cluster1.exec(fixtures.square, 3) == [9]
    assert cluster1.exec(np.sum, array) == [array.size]
    assert _warnings(caplog) == []
