"""Language-model training end to end on a tiny predictable corpus the test writes."""

import math
from pathlib import Path

import pytest
import torch

from shrinknas.config import SHRINKRNN_FINAL_TRAINING, TextTask, TextTraining
from shrinknas.data.text import load_corpus
from shrinknas.nets.rnn import count_language_model
from shrinknas.run.trial import TrialSpec, evaluate
from shrinknas.genome.dag_cell import Topology
from shrinknas.train.common import Diverged
from shrinknas.run.trial import TrialContext, TrialSpec
from shrinknas.train.language import _averaged_weights, build_language_model, evaluate_candidate, fit_language_model, fit_lm

CELL = Topology("rnn", ("tanh", "identity", "sigmoid", "relu"), ((0, 1), (0, 2), (1, 3), (2, 3)))
WORDS = "the quick brown fox jumps over a lazy dog".split()


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory) -> Path:
    """Lines that walk the word list from a shifting start: the next word is always predictable."""
    root = tmp_path_factory.mktemp("tiny-lm")
    lines = [" ".join(WORDS[(i + k) % len(WORDS)] for k in range(6)) for i in range(120)]
    (root / "train.txt").write_text("\n".join(lines[:100]) + "\n")
    (root / "valid.txt").write_text("\n".join(lines[100:110]) + "\n")
    (root / "test.txt").write_text("\n".join(lines[110:]) + "\n")
    return root


def tiny_task(root: Path, **training) -> TextTask:
    settings = dict(epochs=3, batch_size=4, eval_batch_size=2, bptt=8, lr_decay_epochs=())
    settings.update(training)
    return TextTask(
        dataset=f"ptb:{root}", proxy_train_lines=80, proxy_eval_lines=10, vocab_size=50, hidden=12,
        training=TextTraining(**settings),
    )


def test_a_candidate_trains_and_learns_the_tiny_language(corpus_dir):
    task = tiny_task(corpus_dir)
    spec = TrialSpec(CELL, task, seed=0)
    result = evaluate_candidate(spec, TrialContext(spec.key())).metrics
    assert set(result) == {"val_ppl", "epochs", "params", "macs"}
    assert result["epochs"] == 3
    vocab = len(WORDS) + 2
    assert result["params"] == count_language_model(CELL, 12, vocab).params
    assert result["macs"] == count_language_model(CELL, 12, vocab).macs_per_token
    # uniform guessing scores 11 and word frequencies alone about 9.6: below 8 the cell uses its context
    assert result["val_ppl"] < 8
    assert evaluate_candidate(spec, TrialContext(spec.key())).metrics["val_ppl"] == result["val_ppl"]  # a trial is a pure function


def test_a_text_trial_goes_through_the_common_evaluate(corpus_dir):
    result = evaluate(TrialSpec(CELL, tiny_task(corpus_dir, epochs=1), seed=1))
    assert result.ok and math.isfinite(result.metric("val_ppl")) and result.metric("params") > 0


def test_a_huge_learning_rate_diverges(corpus_dir):
    task = tiny_task(corpus_dir, lr=1e30, clip=1e30, epochs=2)
    with pytest.raises(Diverged):
        spec = TrialSpec(Topology("rnn", ("identity", "identity"), ((0, 1),)), task, seed=0)
        evaluate_candidate(spec, TrialContext(spec.key()))
    assert evaluate(TrialSpec(CELL, task, seed=0)).status == "failed"


def test_final_training_recipe_runs_with_nt_asgd_and_reports_test_perplexity(corpus_dir):
    training = SHRINKRNN_FINAL_TRAINING.model_copy(
        update=dict(epochs=10, batch_size=4, eval_batch_size=2, bptt=8, bptt_std=1.0, nonmono=1)
    )
    task = tiny_task(corpus_dir).model_copy(update={"training": training})
    seen = []
    fitted = fit_language_model(CELL, task, seed=0, on_epoch=lambda epoch, metrics: seen.append((epoch, metrics)))
    assert [e for e, _ in seen] == list(range(1, fitted.epochs + 1))
    assert {"train_ppl", "val_ppl", "lr", "optimizer"} <= set(seen[0][1])
    assert math.isfinite(fitted.test_ppl) and fitted.val_ppl == min(m["val_ppl"] for _, m in seen)
    # heavy dropout on a tiny model makes validation stall, which switches SGD to averaged SGD for good
    assert fitted.asgd_from_epoch is not None
    assert [m["optimizer"] for _, m in seen] == ["sgd"] * (fitted.asgd_from_epoch - 1) + ["asgd"] * (
        fitted.epochs - fitted.asgd_from_epoch + 1
    )
    assert fitted.params == count_language_model(CELL, 12, len(WORDS) + 2).params


def test_averaged_weights_are_swapped_in_for_evaluation_and_back_out():
    torch.manual_seed(0)
    model = build_language_model(CELL, 11, 4, TextTraining())
    optimizer = torch.optim.ASGD(model.parameters(), lr=0.5, t0=0, lambd=0.0)
    iterates = []
    for _ in range(3):
        optimizer.zero_grad()
        model(torch.randint(0, 11, (3, 2)), model.init_hidden(2)).logits.pow(2).mean().backward()
        optimizer.step()
        iterates.append(model.cell.w0.detach().clone())
    with _averaged_weights(optimizer):
        inside = model.cell.w0.detach().clone()
    # torch's ASGD with t0=0 averages the iterates from the second step on
    torch.testing.assert_close(inside, (iterates[1] + iterates[2]) / 2)
    assert not torch.allclose(inside, iterates[2])
    torch.testing.assert_close(model.cell.w0.detach(), iterates[2])  # training weights come back


def test_fit_stops_after_patience_epochs_without_improvement(corpus_dir):
    corpus = load_corpus(f"ptb:{corpus_dir}", 50)
    torch.manual_seed(0)
    model = build_language_model(CELL, corpus.vocab_size, 12, TextTraining())
    # an update far below float resolution leaves the weights, hence the validation loss, unchanged
    training = TextTraining(epochs=30, lr=1e-30, batch_size=4, eval_batch_size=2, bptt=8, patience=2)
    fitted = fit_lm(model, corpus, training, seed=0)
    assert fitted.epochs == 3 and fitted.best_epoch == 1
    assert [h["epoch"] for h in fitted.history] == [1, 2, 3]


def test_learning_rate_drops_tenfold_at_the_authors_epochs(corpus_dir):
    assert TextTraining().decay_after() == {6, 8}  # 10 epochs: after epochs - 4 and epochs - 2 (0-based)
    assert TextTraining(epochs=3).decay_after() == {1}
    corpus = load_corpus(f"ptb:{corpus_dir}", 50)
    torch.manual_seed(0)
    model = build_language_model(CELL, corpus.vocab_size, 12, TextTraining())
    fitted = fit_lm(model, corpus, TextTraining(epochs=3, batch_size=4, eval_batch_size=2, bptt=8, patience=3), seed=0)
    assert [h["lr"] for h in fitted.history] == pytest.approx([20.0, 20.0, 2.0])
