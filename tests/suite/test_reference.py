"""Comparing a demo table with the committed reference."""

from __future__ import annotations

import math

import pytest

from xai_eval.suite.reference import compare

HEADER = "dataset,model,method,loc_err,pointing\n"


def test_identical_tables_match_exactly():
    text = HEADER + "d,GAP net,CAM,12.5,80.0\n"
    result = compare(text, text)
    assert result.identical and result.largest == 0.0 and "exactly" in result.message()


def test_the_largest_deviation_and_its_cell_are_reported():
    reference = HEADER + "d,GAP net,CAM,12.5,80.0\nd,GAP net,Grad-CAM,10.0,90.0\n"
    got = HEADER + "d,GAP net,CAM,12.5,80.25\nd,GAP net,Grad-CAM,11.0,90.0\n"
    result = compare(got, reference)
    assert not result.identical and result.largest == pytest.approx(1.0)
    assert result.where == "d/GAP net/Grad-CAM, column loc_err"
    assert "largest deviation 1" in result.message()


def test_missing_rows_and_empty_cells_are_not_small_deviations():
    reference = HEADER + "d,GAP net,CAM,12.5,80.0\n"
    assert math.isinf(compare(HEADER, reference).largest)
    blank = compare(HEADER + "d,GAP net,CAM,,80.0\n", reference)
    assert math.isinf(blank.largest) and "loc_err" in blank.where
