"""One activation per row of the kernels' activation table, as a user passes
it: what the benchmarks that cover every fused activation run. Taken from
the tests' activation catalogue (tests/helpers/activation_catalogue.py)."""

import sys
from pathlib import Path

from spatial_ops import Activation

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from helpers.activation_catalogue import CATALOGUE  # noqa: E402


def every_activation():
    """(table row, activation), the catalogue's first entry for each row of
    the table, in the order of the rows' names."""
    first = {}
    for case in CATALOGUE:
        first.setdefault(case.table_row, case)
    return [(table_row, first[table_row].user_form(Activation)) for table_row in sorted(first)]
