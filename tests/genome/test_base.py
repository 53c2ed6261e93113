"""Any architecture file loads through one call, whatever its kind; bad ones are one line naming the file."""

import json

import pytest

from shrinknas.errors import BadInputError
from shrinknas.genome import Topology, genome_from_dict, genome_kinds, load_genome


def test_a_cell_file_loads_as_its_kind_and_round_trips(tmp_path):
    cell = Topology.complete("cnn", ("input", "conv1x1", "sepconv3x3"))
    path = tmp_path / "cell.json"
    path.write_text(cell.to_json())
    loaded = load_genome(path)
    assert loaded == cell and loaded.key() == cell.key()
    assert genome_from_dict(json.loads(json.dumps(loaded.to_dict()))) == cell
    assert {"cnn", "rnn"} <= set(genome_kinds())


@pytest.mark.parametrize("text, expected", [
    ('{"kind": "teapot"}', "unknown architecture kind 'teapot'"),
    ("[1, 2]", "must be a JSON object"),
    ("{", "not valid JSON"),
])
def test_a_bad_file_is_one_line_naming_it(tmp_path, text, expected):
    path = tmp_path / "arch.json"
    path.write_text(text)
    with pytest.raises(BadInputError, match=expected) as info:
        load_genome(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(BadInputError, match="does not exist"):
        load_genome(tmp_path / "nothing.json")
