"""The activation catalogue every test and benchmark runs
(spatial_ops/testing/activation_catalogue.py) says what the op really does: each
entry's Keras activation resolves to exactly its table row and parameters,
every row of the C++ activation table has an entry, and every fused Keras
activation name resolves to a row of that table."""

import pytest

import spatial_ops
from spatial_ops import _core
from spatial_ops.activations import resolve
from spatial_ops.testing.activation_catalogue import CATALOGUE

pytestmark = pytest.mark.sanitized

TABLE_ROWS = set(_core.activation_names().split(", "))


@pytest.mark.parametrize("case", CATALOGUE, ids=lambda c: c.id)
def test_each_entry_resolves_to_its_table_row_and_parameters(case):
    resolved = resolve(case.user_form(spatial_ops.Activation))
    assert (resolved.table_row, resolved.params) == (case.table_row, case.params)


def test_every_table_row_has_an_entry():
    assert {case.table_row for case in CATALOGUE} == TABLE_ROWS


def test_the_table_covers_every_fused_keras_activation():
    for name in spatial_ops.FUSED_ACTIVATION_NAMES:
        if name == "threshold":  # has no defaults: only reachable with its parameters
            name = spatial_ops.Activation("threshold", threshold=0.0, default_value=0.0)
        assert resolve(name).table_row in TABLE_ROWS, name
