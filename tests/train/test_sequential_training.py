"""Training sequential networks: appendix 10's recipe through ``classify.fit``, and the dataset phase's trials."""

import pytest
import torch

from shrinknas.config import ImageTask, ImageTraining, identity
from shrinknas.data.images import proxy_data
from shrinknas.errors import BadInputError
from shrinknas.genome.layer_seq import Layer, LayerSequence, conv_stack
from shrinknas.train.classify import lr_schedule
from shrinknas.train.sequential import dataset_recipe, dataset_trial, final_recipe, train_sequential

NET = LayerSequence((1, 8, 8), 10, (Layer.conv(3, 8), Layer("bn"), Layer("relu"), Layer.pool("maxpool", 2),
                                    Layer("dropout"), Layer.linear(10)))


@pytest.fixture(scope="module")
def digits():
    return proxy_data(ImageTask(dataset="digits", proxy_train=300, proxy_val=100))


def test_the_final_recipe_is_appendix_10():
    recipe = final_recipe()
    assert (recipe.epochs, recipe.lr, recipe.batch_size, recipe.schedule) == (50, 0.01, 64, "step")
    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=recipe.lr)
    scheduler = lr_schedule(optimizer, recipe, steps_per_epoch=2)
    lrs = []
    for _ in range(50 * 2):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs[0] == 0.01 and lrs[30 * 2 - 1] == 0.01  # the 30 first epochs at 0.01
    assert lrs[30 * 2] == pytest.approx(0.001) and lrs[-1] == pytest.approx(0.001)
    assert dataset_recipe(5).schedule == "constant" and dataset_recipe(5).lr == 0.01


def test_the_new_schedule_settings_leave_stored_keys_alone():
    assert "lr_step_at" not in identity(ImageTraining()) and "lr_step_factor" not in identity(ImageTraining())


def test_a_sequential_network_trains_every_epoch_and_counts_itself(digits):
    first = train_sequential(NET, digits, final_recipe(3), seed=1)
    assert first.epochs == 3 and len(first.history) == 3
    assert 0.0 <= first.val_acc <= 1.0 and first.val_acc == first.history[-1]["val_acc"]
    assert first.params == NET.params() and first.macs == NET.macs()
    again = train_sequential(NET, digits, final_recipe(3), seed=1)
    assert again.val_acc == first.val_acc and again.history == first.history


def test_a_dataset_trial_returns_plain_figures(digits):
    result = dataset_trial(conv_stack((4,), (2,), (1, 8, 8), 10), digits, epochs=2, seed=0)
    assert set(result) == {"val_acc", "params", "macs", "seconds", "epochs"} and result["epochs"] == 2
    assert result["val_acc"] > 0.2  # ten classes; even two epochs of a small conv net beat chance


def test_a_network_for_other_data_is_refused(digits):
    with pytest.raises(BadInputError, match="matching architecture"):
        train_sequential(conv_stack((4,), (1,), (1, 28, 28), 10), digits, final_recipe(1), seed=0)
