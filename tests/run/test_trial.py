from shrinknas.config import ImageTask, ImageTraining
from shrinknas.run.trial import TrialResult, TrialSpec, evaluate
from shrinknas.topology import Topology

CELL = Topology.complete("cnn", ("input", "conv1x1", "sepconv3x3"))


def tiny(**training) -> ImageTask:
    return ImageTask(dataset="digits", proxy_train=200, proxy_val=50,
                     training=ImageTraining(epochs=1, batch_size=64, **training))


def test_trial_is_a_pure_function_of_its_spec():
    spec = TrialSpec(CELL, tiny(), seed=3)
    a, b = evaluate(spec), evaluate(spec)
    assert a.ok and a.val_acc == b.val_acc and a.macs == b.macs and a.key == spec.key()
    assert TrialResult.from_dict(a.to_dict()) == a


def test_key_depends_on_cell_settings_and_seed():
    base = TrialSpec(CELL, tiny(), 0)
    assert base.key() == TrialSpec(Topology.from_json(CELL.to_json()), tiny(), 0).key()
    assert base.key() != TrialSpec(CELL, tiny(), 1).key()
    assert base.key() != TrialSpec(CELL, tiny(lr=1e-3), 0).key()
    assert base.key() != TrialSpec(CELL.without((0, 1)), tiny(), 0).key()


def test_diverging_candidate_is_a_failed_trial_with_its_reason():
    result = evaluate(TrialSpec(CELL, tiny(lr=1e12), 0))
    assert result.status == "failed" and result.error.startswith("diverged")


def test_exception_becomes_a_failed_trial():
    result = evaluate(TrialSpec(CELL, tiny().model_copy(update={"device": "cuda:7"}), 0))
    assert result.status == "failed" and "cuda" in result.error.lower()
