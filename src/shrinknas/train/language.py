"""Language-model training: the authors' candidate schedule for the search and the final ShrinkRNN recipe.

One loop (``fit_lm``) serves both; the settings decide. Candidate training (``TextTraining()`` defaults):
SGD lr 20, clip 0.25, batch 128, BPTT 35 (half of it for 5% of the batches, with the learning rate scaled by
the length), lr / 10 after the authors' epochs ``epochs - 4`` and ``epochs - 2`` (0-based: 6 and 8 of 10), stop
after 4 epochs without a better validation loss or once validation loss exceeds 3x the training loss. Final
training adds the DARTS / AWD-LSTM regularisation and the switch from SGD to averaged SGD once validation
stops improving (NT-ASGD, Merity et al. 2018); averaged weights are the ones evaluated and kept.
"""

from __future__ import annotations

import logging
import math
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from ..config import TextTask, TextTraining
from ..data.text import Corpus, batchify, bptt_slice, load_corpus
from ..nets.rnn import Dropouts, LanguageModel
from ..genome.dag_cell import Topology
from ..run.trial import Outcome, TrialContext, TrialSpec, register_evaluator
from .common import Diverged, check_finite, resolve_device, seed_everything

log = logging.getLogger(__name__)

EpochCallback = Callable[[int, dict[str, Any]], None]

#: exp() of a mean loss above this overflows a float: the model has diverged.
_MAX_LOSS = 700.0


@dataclass
class LanguageFit:
    """Outcome of one training run; ``val_ppl`` is the best over epochs, ``test_ppl`` of those same weights."""

    val_ppl: float
    test_ppl: float | None
    epochs: int
    best_epoch: int
    params: int
    macs: int
    asgd_from_epoch: int | None = None
    seconds: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)


def dropouts_of(training: TextTraining) -> Dropouts:
    return Dropouts(training.dropout, training.dropout_x, training.dropout_h, training.dropout_i, training.dropout_e)


def build_language_model(topology: Topology, vocab_size: int, hidden: int, training: TextTraining) -> LanguageModel:
    return LanguageModel(topology, vocab_size, hidden, dropouts_of(training))


def perplexity(loss: float) -> float:
    return math.exp(loss) if loss < _MAX_LOSS else math.inf


@torch.no_grad()
def mean_loss(model: LanguageModel, source: torch.Tensor, bptt: int) -> float:
    """Per-token cross-entropy over a batchified split, the hidden state carried from chunk to chunk."""
    model.eval()
    hidden = model.init_hidden(source.size(1))
    total, tokens = 0.0, 0
    for start in range(0, source.size(0) - 1, bptt):
        x, y = bptt_slice(source, start, bptt)
        out = model(x, hidden)
        hidden = out.hidden
        total += F.cross_entropy(out.logits, y.reshape(-1), reduction="sum").item()
        tokens += y.numel()
    return total / tokens


def _sequence_length(training: TextTraining, rng: np.random.Generator) -> int:
    """The authors' BPTT draw (half length with ``bptt_half_prob``), plus AWD-LSTM's normal jitter if asked."""
    length = training.bptt if rng.random() >= training.bptt_half_prob else training.bptt // 2
    if training.bptt_std > 0:
        length = max(5, int(rng.normal(length, training.bptt_std)))
    return length


def _train_epoch(
    model: LanguageModel,
    train: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    training: TextTraining,
    rng: np.random.Generator,
    epoch: int,
) -> float:
    """One pass over the training stream; returns the mean raw (unregularised) loss per token."""
    model.train()
    hidden = model.init_hidden(train.size(1))
    total, tokens, start = 0.0, 0, 0
    params = [p for group in optimizer.param_groups for p in group["params"]]
    while start < train.size(0) - 2:
        length = _sequence_length(training, rng)
        x, y = bptt_slice(train, start, length)
        base_lr = optimizer.param_groups[0]["lr"]
        optimizer.param_groups[0]["lr"] = base_lr * x.size(0) / training.bptt
        out = model(x, hidden.detach())
        hidden = out.hidden
        raw_loss = F.cross_entropy(out.logits, y.reshape(-1))
        check_finite(raw_loss.item(), epoch)
        loss = raw_loss
        if training.ar_alpha > 0:
            loss = loss + training.ar_alpha * out.dropped.pow(2).mean()
        if training.tar_beta > 0 and x.size(0) > 1:
            loss = loss + training.tar_beta * (out.raw[1:] - out.raw[:-1]).pow(2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, training.clip)
        optimizer.step()
        optimizer.param_groups[0]["lr"] = base_lr
        total += raw_loss.item() * y.numel()
        tokens += y.numel()
        start += x.size(0)
    return total / tokens


@contextmanager
def _averaged_weights(optimizer: torch.optim.Optimizer) -> Iterator[None]:
    """Evaluate with averaged-SGD weights (the ``ax`` ASGD keeps), then put the training weights back."""
    pairs = [
        (p, optimizer.state[p]["ax"])
        for group in optimizer.param_groups
        for p in group["params"]
        if "ax" in optimizer.state[p]
    ]
    saved = [p.detach().clone() for p, _ in pairs]
    for p, ax in pairs:
        p.data.copy_(ax)
    try:
        yield
    finally:
        for (p, _), weights in zip(pairs, saved):
            p.data.copy_(weights)


def _sgd(model: LanguageModel, training: TextTraining) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=training.lr, weight_decay=training.weight_decay)


def _asgd(model: LanguageModel, lr: float, training: TextTraining) -> torch.optim.Optimizer:
    # t0=0, lambd=0: a plain running average of every iterate since the switch (Merity et al.)
    return torch.optim.ASGD(model.parameters(), lr=lr, t0=0, lambd=0.0, weight_decay=training.weight_decay)


def fit_lm(
    model: LanguageModel,
    corpus: Corpus,
    training: TextTraining,
    *,
    seed: int,
    device: str = "cpu",
    with_test: bool = False,
    on_epoch: EpochCallback | None = None,
) -> LanguageFit:
    """Train ``model`` on ``corpus`` with ``training``; raises ``Diverged`` on a non-finite loss."""
    started = time.perf_counter()
    dev = resolve_device(device)
    rng = np.random.default_rng(seed)
    model.to(dev)
    train = batchify(corpus.train, training.batch_size).to(dev)
    valid = batchify(corpus.valid, training.eval_batch_size).to(dev)
    optimizer = _sgd(model, training)
    best_loss, best_epoch, best_state = math.inf, 0, None
    since_best, asgd_from, history = 0, None, []
    val_losses: list[float] = []
    decay_after = training.decay_after()
    epoch = 0
    for epoch in range(1, training.epochs + 1):
        tick = time.perf_counter()
        train_loss = _train_epoch(model, train, optimizer, training, rng, epoch)
        with _averaged_weights(optimizer) if asgd_from is not None else nullcontext():
            val_loss = mean_loss(model, valid, training.bptt)
            if not math.isfinite(perplexity(val_loss)):
                raise Diverged(f"validation perplexity overflowed in epoch {epoch}")
            if val_loss < best_loss:
                best_loss, best_epoch, since_best = val_loss, epoch, 0
                if with_test:
                    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                since_best += 1
        metrics = {
            "train_ppl": perplexity(train_loss),
            "val_ppl": perplexity(val_loss),
            "best_val_ppl": perplexity(best_loss),
            "lr": optimizer.param_groups[0]["lr"],
            "optimizer": "asgd" if asgd_from is not None else "sgd",
            "seconds": time.perf_counter() - tick,
        }
        history.append({"epoch": epoch, **metrics})
        log.info("epoch %d: train ppl %.2f, val ppl %.2f (%s, %.1fs)", epoch, metrics["train_ppl"],
                 metrics["val_ppl"], metrics["optimizer"], metrics["seconds"])
        if on_epoch is not None:
            on_epoch(epoch, metrics)
        if since_best >= training.patience:
            log.info("stopping: %d epochs without a better validation loss", since_best)
            break
        if training.overfit_ratio is not None and val_loss > training.overfit_ratio * train_loss:
            log.info("stopping: validation loss %.2f is over %gx the training loss", val_loss, training.overfit_ratio)
            break
        if training.asgd and asgd_from is None and len(val_losses) > training.nonmono and val_loss > min(
            val_losses[: -training.nonmono]
        ):
            log.info("switching to averaged SGD after epoch %d", epoch)
            optimizer, asgd_from = _asgd(model, optimizer.param_groups[0]["lr"], training), epoch + 1
        val_losses.append(val_loss)
        if epoch - 1 in decay_after:
            for group in optimizer.param_groups:
                group["lr"] /= 10
    test_ppl = None
    if with_test:
        if best_state is not None:
            model.load_state_dict(best_state)
        test_ppl = perplexity(mean_loss(model, batchify(corpus.test, training.eval_batch_size).to(dev), training.bptt))
    return LanguageFit(
        val_ppl=perplexity(best_loss),
        test_ppl=test_ppl,
        epochs=epoch,
        best_epoch=best_epoch,
        params=sum(p.numel() for p in model.parameters()),
        macs=model.macs_per_token(),
        asgd_from_epoch=asgd_from,
        seconds=time.perf_counter() - started,
        history=history,
    )


def language_model_for(
    topology: Topology, task: TextTask, seed: int, *, proxy: bool = False
) -> tuple[LanguageModel, Corpus]:
    """The task's corpus (whole, or its proxy lines) and a freshly seeded model for it."""
    if proxy:
        corpus = load_corpus(task.dataset, task.vocab_size, task.proxy_train_lines, task.proxy_eval_lines)
    else:
        corpus = load_corpus(task.dataset, task.vocab_size)
    seed_everything(seed)
    return build_language_model(topology, corpus.vocab_size, task.hidden, task.training), corpus


@register_evaluator("rnn", "rnn")
def evaluate_candidate(spec: TrialSpec, context: TrialContext) -> Outcome:
    """One search trial: train on the proxy with ``task.training``; ``macs`` are per predicted token."""
    model, corpus = language_model_for(spec.genome, spec.task, spec.seed, proxy=True)
    fitted = fit_lm(model, corpus, spec.task.training, seed=spec.seed, device=spec.task.device)
    return Outcome({"val_ppl": fitted.val_ppl, "epochs": fitted.epochs, "params": fitted.params, "macs": fitted.macs})


def fit_language_model(
    topology: Topology,
    task: TextTask,
    seed: int,
    *,
    proxy: bool = False,
    on_epoch: EpochCallback | None = None,
) -> LanguageFit:
    """Train a cell's language model with ``task.training`` (e.g. ``SHRINKRNN_FINAL_TRAINING``) on the whole
    corpus (or its proxy), reporting the best validation perplexity and the test perplexity of those weights."""
    model, corpus = language_model_for(topology, task, seed, proxy=proxy)
    return fit_lm(model, corpus, task.training, seed=seed, device=task.device, with_test=True, on_epoch=on_epoch)
