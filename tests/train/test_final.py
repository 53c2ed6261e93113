"""Final training records what an export needs, and ``load_trained`` gives back the very network it trained."""

import json

import pytest

from shrinknas.config import ImageTraining, TextTask, TextTraining
from shrinknas.data.images import full_data
from shrinknas.data.text import batchify, load_corpus
from shrinknas.errors import BadInputError
from shrinknas.export import export, export_difference, load_trained
from shrinknas.genome.dag_cell import Topology
from shrinknas.train.classify import accuracy
from shrinknas.train.final import train_final, train_final_language
from shrinknas.train.language import mean_loss, perplexity

WORDS = "the cat sat on a mat and dog ran to see her".split()


@pytest.fixture
def text_dir(tmp_path):
    root = tmp_path / "text"
    root.mkdir()
    lines = [" ".join(WORDS[(i + k) % len(WORDS)] for k in range(6)) for i in range(40)]
    for name, part in (("train", lines[:24]), ("valid", lines[24:32]), ("test", lines[32:])):
        (root / f"{name}.txt").write_text("\n".join(part))
    return root


def test_image_training_records_the_inputs_and_exports_the_trained_weights(tmp_path):
    cell = Topology("cnn", ("input", "conv1x1", "sepconv3x3"), ((0, 1), (0, 2), (1, 2)))
    settings = ImageTraining(epochs=1, batch_size=64)
    report = train_final(cell, "digits", settings, width_mult=0.25, out=tmp_path / "run")
    data = full_data("digits")
    saved = json.loads((tmp_path / "run" / "result.json").read_text())
    assert saved["input_shape"] == [1, 8, 8] and saved["n_classes"] == 10 and len(saved["class_names"]) == 10
    assert saved["mean"] == pytest.approx(data.mean) and saved["std"] == pytest.approx(data.std)

    model, card = load_trained(tmp_path / "run")
    assert card.weights == "trained" and card.mean == pytest.approx(data.mean) and card.input_shape == (1, 8, 8)
    # the loaded weights are the trained ones: they score the reported test accuracy (a near tie may flip)
    assert abs(accuracy(model, data.val_x, data.val_y) - report["test_acc"]) <= 2 / len(data.val_y)
    path = export(model, card, "onnx", tmp_path / "digits.onnx")
    assert export_difference(path, model) < 1e-4


def test_language_training_records_the_vocabulary_and_exports_the_trained_weights(tmp_path, text_dir):
    training = TextTraining(epochs=1, batch_size=4, bptt=5, eval_batch_size=2)
    task = TextTask(dataset=f"text:{text_dir}", hidden=8, vocab_size=30, training=training)
    cell = Topology("rnn", ("tanh", "relu", "sigmoid"), ((0, 1), (0, 2), (1, 2)))
    report = train_final_language(cell, task, out=tmp_path / "run")
    corpus = load_corpus(task.dataset, task.vocab_size)
    assert (tmp_path / "run" / "vocab.txt").read_text().splitlines() == list(corpus.vocab)

    model, card = load_trained(tmp_path / "run")
    assert card.class_names == corpus.vocab and card.n_classes == corpus.vocab_size and card.input_shape == (5,)
    test_ppl = perplexity(mean_loss(model, batchify(corpus.test, 2), 5))
    assert test_ppl == pytest.approx(report["test_ppl"], rel=1e-4)  # the weights that scored the reported test_ppl
    path = export(model, card, "torchscript", tmp_path / "lm.ts")
    assert export_difference(path, model) < 1e-4


def test_a_directory_without_a_training_result_is_a_one_line_error(tmp_path):
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "result.json").write_text(json.dumps({"test_acc": 0.9}))  # written before export existed
    for directory in (tmp_path, tmp_path / "old"):
        with pytest.raises(BadInputError) as info:
            load_trained(directory)
        assert "\n" not in str(info.value)

