"""Exported files compute what the model they came from computes, read back by their own runtimes."""

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from shrinknas.config import ImageTask
from shrinknas.errors import BadInputError
from shrinknas.export import (
    ModelCard,
    card_path,
    example_inputs,
    export,
    export_difference,
    load_state_dict_export,
    read_card,
)
from shrinknas.genome.dag_cell import Topology
from shrinknas.nets.cnn import cell_network_spec, proxy_macro
from shrinknas.nets.registry import build_network
from shrinknas.nets.rnn import LanguageModel, language_model_spec

CELL = Topology("cnn", ("input", "sepconv3x3", "conv1x1", "sepconv3x3"), ((0, 1), (0, 2), (1, 3), (2, 3)))
RNN_CELL = Topology("rnn", ("tanh", "sigmoid", "relu"), ((0, 1), (0, 2), (1, 2)))
TOLERANCE = 1e-4
#: these tests read TorchScript back as a user would, through the API torch now says it will drop
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")


@pytest.fixture(scope="module")
def proxy():
    """A small proxy network with trained-looking (non-initial) batch-norm statistics, and its card."""
    task = ImageTask(stem_channels=8, base_width=4)
    spec = cell_network_spec(CELL, proxy_macro(task), 1, 3)
    model = build_network(spec, seed=0)
    model.train()
    with torch.no_grad():  # move the BN running statistics off 0 / 1, so evaluation mode matters
        for _ in range(3):
            model(torch.randn(8, 1, 12, 12) * 3 + 1)
    card = ModelCard(spec, (1, 12, 12), 3, ("cat", "dog", "owl"), (33.3,), (78.6,), "trained", "digits")
    return model.eval(), card


@pytest.fixture(scope="module")
def language_model():
    spec = language_model_spec(RNN_CELL, 17, 6)
    return build_network(spec, seed=0), ModelCard(spec, (4,), 17)


def onnx_outputs(path, inputs):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return [torch.from_numpy(a) for a in session.run(None, {n: x.numpy() for n, x in zip(names, inputs)})]


def max_difference(got, expected):
    assert [g.shape for g in got] == [e.shape for e in expected]
    return max(float((g - e).abs().max()) for g, e in zip(got, expected))


def test_onnx_runs_in_onnxruntime_like_pytorch_at_any_batch_size(proxy, tmp_path):
    model, card = proxy
    path = export(model, card, "onnx", tmp_path / "cell.onnx")
    for batch in (1, 5):  # the trace ran on 2: the batch axis is dynamic
        (x,) = example_inputs(model, card, batch, seed=batch)
        with torch.no_grad():
            expected = model(x)
        assert max_difference(onnx_outputs(path, [x]), [expected]) < TOLERANCE
    assert export_difference(path, model) < TOLERANCE


def test_onnx_metadata_and_the_card_beside_it_say_how_to_feed_the_network(proxy, tmp_path):
    model, card = proxy
    path = export(model, card, "onnx", tmp_path / "cell.onnx")
    props = {p.key: json.loads(p.value) for p in onnx.load(str(path)).metadata_props}
    beside = json.loads(card_path(path).read_text())
    assert card_path(path).name == "cell.onnx.json"
    for entries in (props, beside):
        assert entries["input_shape"] == [1, 12, 12] and entries["n_classes"] == 3
        assert entries["class_names"] == ["cat", "dog", "owl"]
        assert entries["mean"] == [33.3] and entries["std"] == [78.6] and entries["weights"] == "trained"
        assert entries["format"] == "onnx" and entries["inputs"][0]["shape"] == ["batch", 1, 12, 12]
        assert entries["network"] == card.network.to_dict()
    assert read_card(path) == card


def test_torchscript_reloads_with_jit_load_and_computes_the_same(proxy, tmp_path):
    model, card = proxy
    path = export(model, card, "torchscript", tmp_path / "cell.ts")
    extra = {"shrinknas.json": ""}
    loaded = torch.jit.load(str(path), _extra_files=extra)
    assert json.loads(extra["shrinknas.json"])["mean"] == [33.3]
    (x,) = example_inputs(model, card, 3, seed=7)
    with torch.no_grad():
        assert max_difference([loaded(x)], [model(x)]) < TOLERANCE


def test_state_dict_loads_weights_only_into_the_network_its_card_builds(proxy, tmp_path):
    model, card = proxy
    path = export(model, card, "state-dict", tmp_path / "cell.pt")
    state = torch.load(path, weights_only=True)
    fresh = build_network(read_card(path).network, seed=1)
    (x,) = example_inputs(model, card, 3, seed=3)
    with torch.no_grad():
        expected = model(x)
        assert (fresh(x) - expected).abs().max() > 1e-3  # fresh weights compute something else ...
        fresh.load_state_dict(state)
        assert max_difference([fresh(x)], [expected]) < TOLERANCE  # ... until the exported ones are loaded
        loaded, loaded_card = load_state_dict_export(path)
        assert max_difference([loaded(x)], [expected]) < TOLERANCE and loaded_card == card


def test_export_difference_sees_a_file_that_computes_something_else(proxy, tmp_path):
    model, card = proxy
    path = export(model, card, "torchscript", tmp_path / "cell.ts")
    other = build_network(card.network, seed=5)
    assert export_difference(path, other) > 1e-3


def lm_reference(model: LanguageModel, tokens, hidden):
    """The language model's own time-major call, reshaped batch first."""
    with torch.no_grad():
        out = model(tokens.t(), hidden)
    batch, steps = tokens.shape
    return [out.logits.view(steps, batch, -1).transpose(0, 1), out.hidden]


@pytest.mark.parametrize("format", ["onnx", "torchscript"])
def test_language_model_exports_tokens_and_hidden_in_logits_and_hidden_out(language_model, tmp_path, format):
    model, card = language_model
    path = export(model, card, format, tmp_path / f"lm.{format}")
    tokens, hidden = example_inputs(model, card, 3, seed=4)
    assert tokens.shape == (3, 4) and tokens.dtype == torch.int64 and hidden.shape == (3, 6)
    expected = lm_reference(model, tokens, hidden)
    if format == "onnx":
        got = onnx_outputs(path, [tokens, hidden])
    else:
        with torch.no_grad():
            got = list(torch.jit.load(str(path))(tokens, hidden))
    assert max_difference(got, expected) < TOLERANCE
    record = json.loads(card_path(path).read_text())
    assert [i["name"] for i in record["inputs"]] == ["tokens", "hidden"]
    assert record["outputs"][0]["shape"] == ["batch", 4, 17]


def test_language_model_state_dict_round_trip(language_model, tmp_path):
    model, card = language_model
    path = export(model, card, "state-dict", tmp_path / "lm.pt")
    loaded, _ = load_state_dict_export(path)
    tokens, hidden = example_inputs(model, card, 2, seed=9)
    assert max_difference(lm_reference(loaded, tokens, hidden), lm_reference(model, tokens, hidden)) < TOLERANCE


def test_export_leaves_a_training_model_training(proxy, tmp_path):
    model, card = proxy
    model.train()
    try:
        export(model, card, "state-dict", tmp_path / "cell.pt")
        assert model.training
    finally:
        model.eval()


def test_what_a_user_gets_wrong_is_one_line(proxy, tmp_path):
    model, card = proxy
    cases = [
        lambda: export(model, card, "tflite", tmp_path / "m"),
        lambda: export(model, card, "onnx", tmp_path / "missing" / "m.onnx"),
        lambda: ModelCard(card.network, (1, 12, 12), 3, ("a", "b")),
        lambda: read_card(tmp_path / "nothing.onnx"),
    ]
    narrower = build_network(cell_network_spec(CELL, proxy_macro(ImageTask(stem_channels=4)), 1, 3))
    cases.append(lambda: export(narrower, card, "onnx", tmp_path / "m.onnx"))  # a card of another network
    replaced = export(model, card, "state-dict", tmp_path / "replaced.pt")
    torch.save(narrower.state_dict(), replaced)  # weights that do not fit the card beside them
    cases.append(lambda: load_state_dict_export(replaced))
    for case in cases:
        with pytest.raises(BadInputError) as info:
            case()
        assert "\n" not in str(info.value)


def test_example_inputs_are_the_same_for_the_same_seed(proxy):
    model, card = proxy
    (a,), (b,), (c,) = (example_inputs(model, card, 2, seed=s) for s in (0, 0, 1))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert np.isfinite(a.numpy()).all()
