"""niah.data.grid.parse_int_list: the --lengths / --depths syntax, and ranges too long to build."""

from __future__ import annotations

import pytest

from niah.data.grid import MAX_VALUES, parse_int_list
from niah.errors import NiahError


def test_lists_and_ranges_parse_sorted_and_unique():
    assert parse_int_list("32, 16,16", "lengths") == [16, 32]
    assert parse_int_list("200:1000:200", "lengths") == [200, 400, 600, 800, 1000]
    assert parse_int_list("0:100:30", "depths") == [0, 30, 60, 90]


def test_a_range_longer_than_any_grid_allows_is_refused_before_it_is_built():
    """`--lengths 1:100000000:1` took 29 s and gigabytes building the list before the size check
    refused it; the count of a range is known without building it."""
    with pytest.raises(NiahError, match=f"3,000,000 values: at most {MAX_VALUES:,}"):
        parse_int_list("1:3000000:1", "lengths")
    assert len(parse_int_list(f"1:{MAX_VALUES}:1", "lengths")) == MAX_VALUES
