"""The sequential genome: JSON and rows round-trip, every invalid network is one line, repair makes decodes valid."""

import json

import pytest

from shrinknas.errors import BadInputError
from shrinknas.genome import LayerSequence, genome_from_dict, load_genome
from shrinknas.genome.layer_seq import (TYPE_CODE, TYPES, Layer, RepairRules, conv7, conv10, repair, snap,
                                        teacher)

EXAMPLE = {"kind": "sequential", "input": [1, 28, 28], "classes": 10, "layers": [
    {"type": "conv", "kernel": 3, "out": 64, "stride": 1, "padding": 1}, {"type": "bn"}, {"type": "relu"},
    {"type": "maxpool", "kernel": 2, "stride": 2}, {"type": "dropout"},
    {"type": "conv", "kernel": 5, "out": 16, "stride": 2, "padding": 0}, {"type": "sigmoid"},
    {"type": "avgpool", "kernel": 3, "stride": 1, "padding": 1},
    {"type": "linear", "out": 32}, {"type": "bn"}, {"type": "relu"}, {"type": "linear", "out": 10}]}


def test_the_issue_example_loads_from_a_file_and_round_trips(tmp_path):
    path = tmp_path / "net.json"
    path.write_text(json.dumps(EXAMPLE))
    genome = load_genome(path)
    assert isinstance(genome, LayerSequence) and genome.kind == "sequential"
    again = genome_from_dict(json.loads(json.dumps(genome.to_dict())))
    assert again == genome and again.key() == genome.key() and hash(again) == hash(genome)
    assert genome.to_dict()["layers"][3] == {"type": "maxpool", "kernel": 2, "stride": 2, "padding": 0}
    assert genome.key() != conv7().key()


def test_rows_are_t_k_o_s_p_and_map_back_one_to_one():
    genome = genome_from_dict(EXAMPLE)
    rows = genome.rows()
    assert rows[0] == (TYPE_CODE["conv"], 3, 64, 1, 1)
    assert rows[1] == (TYPE_CODE["bn"], 0, 64, 0, 0)  # a width-keeping layer's o is its input width
    assert rows[3] == (TYPE_CODE["maxpool"], 2, 64, 2, 0)
    assert rows[8] == (TYPE_CODE["linear"], 0, 32, 0, 0) and rows[9] == (TYPE_CODE["bn"], 0, 32, 0, 0)
    assert LayerSequence.from_rows(rows, genome.input, genome.classes) == genome
    with pytest.raises(BadInputError, match="not canonical"):
        LayerSequence.from_rows([rows[0], (TYPE_CODE["bn"], 0, 7, 0, 0)] + rows[2:], genome.input, 10)
    assert [TYPE_CODE[t] for t in TYPES] == list(range(1, 9))


def test_shapes_follow_the_layers():
    genome = genome_from_dict(EXAMPLE)
    assert genome.shapes()[3] == (64, 14, 14)
    assert genome.shapes()[5] == (16, 5, 5)  # (14 - 5) // 2 + 1
    assert genome.shapes()[8] == (32,) and genome.shapes()[-1] == (10,)


def test_teachers_have_the_papers_layout_and_size():
    seven = conv7()
    assert [layer.type for layer in seven.layers] == ["conv", "bn", "relu"] * 7 + ["linear"]
    assert seven.params() == 708_458 and abs(seven.params() - 708_000) / 708_000 < 0.01
    assert seven.input == (1, 28, 28) and seven.shapes()[-2] == (256, 7, 7)
    ten = conv10()
    assert sum(layer.type == "conv" for layer in ten.layers) == 10 and ten.input == (3, 32, 32)
    assert abs(ten.params() - 24_400_000) / 24_400_000 < 0.01
    assert teacher("conv7", classes=5).classes == 5
    with pytest.raises(BadInputError, match="unknown teacher"):
        teacher("conv99")


def _with(layers, **top):
    return {"kind": "sequential", "input": top.get("input", [1, 8, 8]), "classes": top.get("classes", 10),
            "layers": layers}


CONV = {"type": "conv", "kernel": 3, "out": 4}
HEAD = {"type": "linear", "out": 10}


@pytest.mark.parametrize("data, message", [
    (_with([CONV, {"type": "maxpool", "kernel": 2}, {"type": "maxpool", "kernel": 2},
            {"type": "maxpool", "kernel": 2}, {"type": "maxpool", "kernel": 2}, HEAD]), "spatial size reaches 0"),
    (_with([{"type": "conv", "kernel": 9, "out": 4, "padding": 0}, HEAD]), "spatial size reaches 0"),
    (_with([{"type": "linear", "out": 5}, CONV, HEAD]), "no conv before it"),
    (_with([HEAD]), "no conv before it"),
    (_with([CONV, {"type": "flatten"}, HEAD]), "unknown layer type 'flatten'"),
    (_with([CONV, {"type": "linear", "out": 5}, CONV, HEAD]), "follows a linear layer"),
    (_with([{"type": "conv", "kernel": "3", "out": 4}, HEAD]), "kernel must be an integer"),
    (_with([{"type": "conv", "kernel": 3, "out": 0}, HEAD]), "out must be at least 1"),
    (_with([{"type": "conv", "kernel": 3, "out": 4, "stride": -1}, HEAD]), "stride must be at least 1"),
    (_with([{"type": "conv", "kernal": 3, "out": 4}, HEAD]), "no field 'kernal'"),
    (_with([CONV, {"type": "bn", "out": 4}, HEAD]), "no field 'out'"),
    (_with([{"type": "conv", "out": 4}, HEAD]), "needs kernel"),
    (_with([CONV, {"type": "maxpool", "kernel": 2, "padding": 2}, HEAD]), "more than half the kernel"),
    (_with([CONV, {"type": "linear", "out": 3}]), "last layer must be the classifier"),
    (_with([CONV, HEAD, {"type": "relu"}]), "last layer must be the classifier"),
    (_with([]), "at least a conv"),
    (_with([CONV, HEAD], input=[1, 8]), "'input' must be"),
    ({"kind": "sequential", "input": [1, 8, 8], "layers": []}, "missing classes"),
])
def test_an_invalid_network_is_one_line(data, message):
    with pytest.raises(BadInputError, match=message) as info:
        genome_from_dict(data)
    assert "\n" not in str(info.value)


def test_another_kind_is_not_read_as_a_sequential_network():
    with pytest.raises(BadInputError, match="kind 'cnn' is not 'sequential'"):
        LayerSequence.from_dict({**EXAMPLE, "kind": "cnn"})


def test_layers_made_in_code_are_validated_too():
    with pytest.raises(BadInputError, match="no field 'kernel'"):
        LayerSequence((1, 8, 8), 10, (Layer.conv(3, 4), Layer("relu", kernel=3), Layer.linear(10)))


def test_non_square_inputs_keep_both_sides():
    genome = LayerSequence((3, 12, 20), 4, (Layer.conv(3, 8, 2), Layer.pool("avgpool", 2), Layer.linear(4)))
    assert genome.shapes()[1] == (8, 3, 5)
    assert genome.params() == 3 * 3 * 3 * 8 + 8 + 8 * 3 * 5 * 4 + 4


def test_snap_picks_the_nearest_allowed_value():
    assert snap(4, (1, 3, 5)) == 3 and snap(6, (1, 3, 5)) == 5 and snap(0, (1, 3)) == 1 and snap(99, (2, 3)) == 3


def test_repair_makes_a_decode_a_valid_network():
    c, mp, bn, relu, lin = (TYPE_CODE[t] for t in ("conv", "maxpool", "bn", "relu", "linear"))
    rows = [
        (lin, 0, 30, 0, 0),    # a linear before any conv: dropped
        (c, 4, 9999, 3, 7),    # kernel 4 -> 3, stride 3 -> 2, width clamped, padding recomputed
        (bn, 5, 17, 2, 1),     # its stray fields and width are ignored: the width is chained
        (relu, 0, 0, 0, 0),
        (mp, 7, 0, 5, 0),      # kernel -> 3, stride -> 2, padding 1
        (lin, 0, 12, 0, 0),
        (c, 3, 8, 1, 1),       # spatial after the first linear: dropped
        (relu, 0, 12, 0, 0),
        (lin, 0, 3, 0, 0),     # the classifier keeps the task's classes
        (relu, 0, 10, 0, 0),   # after the last linear: dropped
        (0, 0, 0, 0, 0),       # PAD ends the network
        (c, 3, 8, 1, 1),
    ]
    rules = RepairRules(conv_kernels=(1, 3, 5), conv_strides=(1, 2), pool_kernels=(2, 3), pool_strides=(1, 2),
                        max_width=64)
    genome = repair(rows, (1, 16, 16), 10, rules)
    assert [layer.to_dict() for layer in genome.layers] == [
        {"type": "conv", "kernel": 3, "out": 64, "stride": 2, "padding": 1}, {"type": "bn"}, {"type": "relu"},
        {"type": "maxpool", "kernel": 3, "stride": 2, "padding": 1}, {"type": "linear", "out": 12},
        {"type": "relu"}, {"type": "linear", "out": 10}]
    no_head = repair([(c, 3, 8, 1, 1), (relu, 0, 8, 0, 0)], (1, 16, 16), 10, rules)
    assert no_head.layers[-1] == Layer.linear(10)


def test_repair_keeps_a_valid_teacher_and_rejects_what_it_cannot_fix():
    seven = conv7()
    assert repair(seven.rows(), seven.input, seven.classes) == seven
    relu, lin, mp = TYPE_CODE["relu"], TYPE_CODE["linear"], TYPE_CODE["maxpool"]
    with pytest.raises(BadInputError, match="no convolution"):
        repair([(relu, 0, 1, 0, 0), (lin, 0, 10, 0, 0)], (1, 8, 8), 10)
    with pytest.raises(BadInputError, match="spatial size reaches 0"):
        repair([(TYPE_CODE["conv"], 3, 4, 1, 1)] + [(mp, 2, 4, 2, 0)] * 5, (1, 8, 8), 10)
