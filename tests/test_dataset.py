import csv

import numpy as np
import pytest

from rxgrid.analytics import (
    Categorical,
    DatasetError,
    DatasetWriter,
    csv_to_dataset,
    get_info,
    make_airline,
    read_block,
    read_dataset,
    write_dataset,
)
from rxgrid.analytics.airline import DAYS


def test_write_and_read_blocks(tmp_path):
    columns = {
        "x": np.arange(10.0),
        "n": np.arange(10),
        "flag": np.arange(10) % 3 == 0,
        "tag": np.array(list("bacbacbacb")),
    }
    info = write_dataset(tmp_path / "d", columns, block_rows=4)
    assert (info.rows, info.blocks, info.block_rows) == (10, 3, (4, 4, 2))
    assert [(v.name, v.type) for v in info.variables] == [
        ("x", "float64"),
        ("n", "int64"),
        ("flag", "bool"),
        ("tag", "category"),
    ]
    assert info.variable("tag").levels == ("a", "b", "c")
    block = read_block(tmp_path / "d", 1, ["tag", "x"])
    assert list(block) == ["tag", "x"]
    np.testing.assert_array_equal(block["x"], [4.0, 5.0, 6.0, 7.0])
    np.testing.assert_array_equal(block["tag"], [0, 2, 1, 0])
    assert isinstance(block["x"], np.memmap)
    whole = read_dataset(tmp_path / "d")
    for name, values in columns.items():
        if name != "tag":
            np.testing.assert_array_equal(whole[name], values)
    assert "Number of observations: 10" in str(info) and "Number of blocks: 3" in str(info)


def test_appending_writer_keeps_codes_as_levels_grow(tmp_path):
    with DatasetWriter(tmp_path / "d", block_rows=3) as writer:
        writer.append({"c": np.array(["x", "y"]), "v": np.array([1.0, 2.0])})
        writer.append({"c": Categorical(np.array([1, 0, -1]), ("z", "x")), "v": np.array([3.0, 4.0, 5.0])})
        writer.append({"c": ["y"], "v": [6.0]})
    info = get_info(tmp_path / "d")
    assert info.variable("c").levels == ("x", "y", "z")
    assert info.block_rows == (3, 3)
    np.testing.assert_array_equal(read_dataset(tmp_path / "d")["c"], [0, 1, 0, 2, -1, 1])


def test_unfinished_or_bad_data_sets_are_refused(tmp_path):
    writer = DatasetWriter(tmp_path / "d")
    writer.append({"v": np.zeros(3)})
    with pytest.raises(DatasetError, match="not a data set"):
        get_info(tmp_path / "d")
    writer.close()
    with pytest.raises(DatasetError, match="already exists"):
        DatasetWriter(tmp_path / "d")
    with pytest.raises(DatasetError, match="out of range"):
        read_block(tmp_path / "d", 1)
    with pytest.raises(DatasetError, match="no column"):
        read_block(tmp_path / "d", 0, ["w"])
    with pytest.raises(DatasetError, match="different lengths"):
        write_dataset(tmp_path / "e", {"a": np.zeros(2), "b": np.zeros(3)})


def test_csv_round_trip_in_small_chunks(tmp_path):
    rng = np.random.default_rng(0)
    rows = [
        [f"{rng.normal():.6f}", rng.choice(["Mon", "Tue", "Wed"]), str(rng.integers(0, 100))]
        for _ in range(250)
    ]
    rows[7][0], rows[9][1], rows[200][2] = "NA", "", ""
    with open(tmp_path / "in.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([["delay", "day", "count"], *rows])
    info = csv_to_dataset(tmp_path / "in.csv", tmp_path / "d", block_rows=60, chunk_rows=35)
    assert (info.rows, info.blocks) == (250, 5)
    assert [v.type for v in info.variables] == ["float64", "category", "float64"]
    data = read_dataset(tmp_path / "d")
    expected_delay = np.array([np.nan if r[0] == "NA" else float(r[0]) for r in rows])
    np.testing.assert_array_equal(data["delay"], expected_delay)
    levels = info.variable("day").levels
    decoded = ["" if c < 0 else levels[c] for c in data["day"]]
    assert decoded == [r[1] for r in rows]
    assert np.isnan(data["count"][200]) and data["count"][0] == float(rows[0][2])


def test_csv_with_fixed_levels_and_bad_values(tmp_path):
    (tmp_path / "a.csv").write_text("day,v\nTue,1\nMon,2\n")
    info = csv_to_dataset(tmp_path / "a.csv", tmp_path / "a", levels={"day": ["Mon", "Tue"]})
    assert info.variable("day").levels == ("Mon", "Tue")
    np.testing.assert_array_equal(read_dataset(tmp_path / "a")["day"], [1, 0])
    (tmp_path / "b.csv").write_text("v\n1\n2\nthree\n")
    with pytest.raises(DatasetError, match="line 4"):
        csv_to_dataset(tmp_path / "b.csv", tmp_path / "b", chunk_rows=2)


def test_make_airline_is_blockwise_and_reproducible(tmp_path):
    info = make_airline(tmp_path / "a", rows=25_000, seed=3, block_rows=10_000)
    assert (info.rows, info.blocks, info.block_rows) == (25_000, 3, (10_000, 10_000, 5_000))
    assert info.variable("DayOfWeek").levels == DAYS
    assert info.names == ["DayOfWeek", "ArrDelay", "Late", "CRSDepTime", "Distance"]
    data = read_dataset(tmp_path / "a")
    missing = np.isnan(data["ArrDelay"])
    assert 0.01 < missing.mean() < 0.035
    np.testing.assert_array_equal(missing, np.isnan(data["Late"]))
    assert set(np.unique(data["Late"][~missing])) == {0.0, 1.0}
    again = make_airline(tmp_path / "b", rows=25_000, seed=3, block_rows=10_000)
    assert again.rows == info.rows
    np.testing.assert_array_equal(read_dataset(tmp_path / "b")["Distance"], data["Distance"])
