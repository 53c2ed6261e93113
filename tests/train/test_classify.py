"""The candidate trainer: its memory format around a torch CPU kernel bug, and its learning-rate schedule."""

import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn

from shrinknas.config import ImageTask, ImageTraining
from shrinknas.nets.cnn import build_proxy_network
from shrinknas.genome.dag_cell import Topology
from shrinknas.train.classify import channels_last_crashes, lr_schedule, memory_format_for

CELL = Topology.complete("cnn", ("input", "conv1x1", "sepconv3x3", "conv1x1"))


def test_narrow_strided_pointwise_convs_are_flagged_and_others_are_not() -> None:
    assert channels_last_crashes(nn.Conv2d(4, 16, 1, stride=2))
    assert channels_last_crashes(nn.Sequential(nn.ReLU(), nn.Conv2d(7, 8, 1, stride=(1, 2))))
    assert not channels_last_crashes(nn.Conv2d(8, 16, 1, stride=2))
    assert not channels_last_crashes(nn.Conv2d(4, 16, 1, stride=1))
    assert not channels_last_crashes(nn.Conv2d(4, 16, 3, stride=2))
    assert channels_last_crashes(nn.Conv2d(40, 40, 1, stride=2, groups=10))  # 4 input channels per group


def test_default_proxy_network_keeps_channels_last_and_a_narrow_one_falls_back() -> None:
    wide = build_proxy_network(CELL, ImageTask(dataset="digits"), 1, 10)
    assert memory_format_for(wide, True) == torch.channels_last
    narrow = build_proxy_network(CELL, ImageTask(dataset="digits", base_width=4), 1, 10)
    assert memory_format_for(narrow, True) == torch.contiguous_format
    assert memory_format_for(wide, False) == torch.contiguous_format


def test_a_network_that_crashes_channels_last_kernels_trains() -> None:
    """Without the fallback this process aborts (double free) in the first backward pass."""
    code = textwrap.dedent(
        """
        import torch
        from shrinknas.config import ImageTask, ImageTraining
        from shrinknas.data.images import proxy_data
        from shrinknas.nets.cnn import build_proxy_network
        from shrinknas.genome.dag_cell import Topology
        from shrinknas.train.classify import fit
        torch.set_num_threads(1)
        task = ImageTask(dataset="digits", base_width=4, proxy_train=300, proxy_val=60)
        data = proxy_data(task)
        cell = Topology.complete("cnn", ("input", "conv1x1", "sepconv3x3", "conv1x1"))
        model = build_proxy_network(cell, task, data.in_channels, data.n_classes)
        for seed in range(3):
            fit(model, data, ImageTraining(epochs=2, batch_size=32), seed=seed)
        print("trained")
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "trained" in done.stdout


def learning_rates(settings: ImageTraining, steps_per_epoch: int, steps: int) -> list[float]:
    optimizer = torch.optim.Adam([nn.Parameter(torch.zeros(1))], lr=settings.lr)
    schedule = lr_schedule(optimizer, settings, steps_per_epoch)
    rates = []
    for _ in range(steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        if schedule is not None:
            schedule.step()
    return rates + [optimizer.param_groups[0]["lr"]]


def test_a_cosine_fine_tune_anneals_to_zero_at_its_last_step_not_at_the_end_of_the_epochs() -> None:
    tune = ImageTraining(finetune_steps=24, finetune_schedule="cosine").finetuning()
    rates = learning_rates(tune, steps_per_epoch=40, steps=24)
    assert rates[0] == pytest.approx(4e-3)
    assert rates[12] == pytest.approx(2e-3)  # halfway down
    assert rates[-1] == pytest.approx(0.0, abs=1e-12)


def test_the_default_fine_tune_keeps_a_constant_rate_and_full_training_anneals_over_all_epochs() -> None:
    assert set(learning_rates(ImageTraining().finetuning(), 40, 24)) == {4e-3}
    full = learning_rates(ImageTraining(epochs=2, schedule="cosine"), steps_per_epoch=10, steps=20)
    assert full[10] == pytest.approx(2e-3) and full[-1] == pytest.approx(0.0, abs=1e-12)


def _fit_state(budget: int, paused_at: int | None, path_dropout: float = 0.0):
    """Fine-tune-like fit of a small cell on digits for ``budget`` steps, straight or resumed from a pause at
    ``paused_at`` steps; returns the weights, Adam's moments, the history and the final val_acc."""
    from shrinknas.data.images import proxy_data
    from shrinknas.train.classify import fit
    from shrinknas.train.common import seed_everything

    task = ImageTask(dataset="digits", proxy_train=200, proxy_val=50)  # 64-image batches: 4 steps an epoch
    data = proxy_data(task)
    settings = ImageTraining(epochs=3, batch_size=64, path_dropout=path_dropout)

    def fresh():
        seed_everything(5)
        model = build_proxy_network(CELL, task, data.in_channels, data.n_classes)
        for cell in model.cells:
            cell.path_dropout = path_dropout
        return model

    resume = None
    if paused_at is not None:
        short = fit(fresh(), data, settings.model_copy(update={"max_steps": paused_at}), seed=1, pause=True)
        assert short.paused is not None and short.paused.steps == paused_at
        resume = short.paused
    model = fresh()
    fitted = fit(model, data, settings.model_copy(update={"max_steps": budget}), seed=1, resume=resume)
    return model.state_dict(), fitted.history, fitted.final_val_acc


@pytest.mark.parametrize("paused_at, budget, path_dropout", [(2, 7, 0.0), (4, 7, 0.0), (3, 3, 0.0), (1, 6, 0.3)])
def test_a_fit_resumed_from_its_pause_is_the_fit_run_straight_through(paused_at, budget, path_dropout) -> None:
    """Mid-epoch, at an epoch's end, at the budget itself, and with path dropout drawing from torch's generator:
    the same weights, running statistics, history and score to the last bit."""
    straight = _fit_state(budget, None, path_dropout)
    resumed = _fit_state(budget, paused_at, path_dropout)
    assert straight[1:] == resumed[1:]
    assert straight[0].keys() == resumed[0].keys()
    assert all(torch.equal(straight[0][k], resumed[0][k]) for k in straight[0])
    other = _fit_state(budget + 1, None, path_dropout)  # the comparison can tell fits apart
    assert not all(torch.equal(other[0][k], straight[0][k]) for k in other[0])


def test_only_a_constant_rate_single_fit_pauses() -> None:
    from shrinknas.data.images import proxy_data
    from shrinknas.train.classify import fit

    task = ImageTask(dataset="digits", proxy_train=100, proxy_val=20)
    data = proxy_data(task)
    model = build_proxy_network(CELL, task, data.in_channels, data.n_classes)
    with pytest.raises(ValueError, match="constant learning rate"):
        fit(model, data, ImageTraining(epochs=1, schedule="cosine", max_steps=1), seed=0, pause=True)


def _small_fit(precision: str):
    """A few steps of a small cell on digits; returns the fit, the weights and the dtypes the convolutions saw."""
    from shrinknas.data.images import proxy_data
    from shrinknas.train.classify import fit
    from shrinknas.train.common import seed_everything

    task = ImageTask(dataset="digits", proxy_train=400, proxy_val=100)
    data = proxy_data(task)
    seed_everything(3)
    model = build_proxy_network(CELL, task, data.in_channels, data.n_classes)
    seen: set[torch.dtype] = set()
    for conv in (m for m in model.modules() if isinstance(m, nn.Conv2d)):
        conv.register_forward_hook(lambda _m, _inputs, output: seen.add(output.dtype))
    fitted = fit(model, data, ImageTraining(epochs=3, batch_size=32, precision=precision), seed=1)
    return fitted, model.state_dict(), seen


def test_bf16_training_computes_in_bf16_keeps_fp32_weights_learns_and_repeats_itself() -> None:
    fitted, weights, seen = _small_fit("bf16")
    assert seen == {torch.bfloat16}  # training and validation both
    assert all(w.dtype in (torch.float32, torch.int64) for w in weights.values())  # Adam updates fp32 weights
    assert fitted.best_val_acc > 0.5  # 10 classes: chance is 0.1
    again, again_weights, _ = _small_fit("bf16")
    assert again.history == fitted.history
    assert all(torch.equal(weights[k], again_weights[k]) for k in weights)
    fp32, _, fp32_seen = _small_fit("fp32")
    assert fp32_seen == {torch.float32} and fp32.history != fitted.history


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_channel_concat_is_torch_cat_with_dense_gradients(dtype) -> None:
    """The same values forward and backward as torch.cat; in bf16 each input's gradient is dense channels_last."""
    from shrinknas.nets.cnn import concat_channels

    torch.manual_seed(0)
    shapes = [(4, c, 5, 5) for c in (3, 8, 5)]
    parts = [torch.randn(s).to(dtype).contiguous(memory_format=torch.channels_last).requires_grad_() for s in shapes]
    upstream = torch.randn(4, 16, 5, 5).to(dtype)
    handed: list[torch.Tensor] = []  # the gradients as the concat's backward hands them on, before accumulation
    hooks = [p.register_hook(lambda g: handed.append(g)) for p in parts]

    def gradients(concat) -> tuple[torch.Tensor, list[torch.Tensor]]:
        handed.clear()
        out = concat(parts)
        (out * upstream).sum().backward()
        grads = [p.grad for p in parts]
        for p in parts:
            p.grad = None
        return out, grads

    ours, ours_grads = gradients(concat_channels)
    ours_handed = list(handed)
    reference, reference_grads = gradients(lambda ps: torch.cat(ps, dim=1))
    assert torch.equal(ours, reference)
    assert all(torch.equal(a, b) for a, b in zip(ours_grads, reference_grads))
    if dtype == torch.bfloat16:
        assert all(g.is_contiguous(memory_format=torch.channels_last) for g in ours_handed)
        assert not handed[1].is_contiguous(memory_format=torch.channels_last)  # torch.cat's: strided views
    for hook in hooks:
        hook.remove()
    assert concat_channels(parts[:1]) is parts[0]


def test_precision_keys_trials_only_when_bf16_and_holds_for_every_training_of_a_search() -> None:
    from shrinknas.config import identity

    assert "precision" not in identity(ImageTraining())  # stored fp32 runs keep their trial keys
    bf16 = ImageTraining(precision="bf16")
    assert identity(bf16)["precision"] == "bf16"
    assert bf16.finetuning().precision == bf16.from_scratch().precision == "bf16"  # confirm stage, re-trained steps
