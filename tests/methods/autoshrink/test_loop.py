"""The shrink loop on a tiny real search (digits, 4 nodes), and its handling of failed candidates."""

import dataclasses
import math

import pytest

from shrinknas.config import ImageTask, ImageTraining, identity
from shrinknas.methods.autoshrink.config import AutoShrinkConfig, SearchSettings
from shrinknas.run.trial import TrialResult
from shrinknas.run.executors import evaluate_serially
from shrinknas.methods.autoshrink.loop import autoshrink, derive_seed, initial_cell, sample_removals

TINY = ImageTask(dataset="digits", proxy_train=200, proxy_val=50,
                 training=ImageTraining(epochs=1, batch_size=64))


def tiny_config(**search) -> AutoShrinkConfig:
    return AutoShrinkConfig(search=SearchSettings(nodes=4, candidates=3, **search), task=TINY)


@pytest.fixture(scope="module")
def tiny_run():
    return autoshrink(tiny_config(), evaluate_serially)


def test_trajectory_follows_algorithm_1(tiny_run):
    result = tiny_run
    assert result.chosen[0].step == 0 and result.chosen[0].topology == initial_cell(tiny_config())
    cell = result.initial
    for step in range(1, len(result.chosen)):
        step_cands = [c for c in result.candidates if c.step == step]
        removed = [c.removed_edge for c in step_cands]
        # K distinct edges of the current cell, the ones the seeded sampler draws
        assert removed == sample_removals(cell, 3, 0, step)
        assert len(set(removed)) == len(removed) == min(3, len(cell.edges))
        for c in step_cands:
            assert c.topology == cell.without(c.removed_edge)
        kept = result.chosen[step]
        assert kept.score == max(c.score for c in step_cands if c.ok)
        assert [c for c in step_cands if c.kept] == [kept]  # marked for the trajectory file, once
        assert len(kept.topology.edges) < len(cell.edges)
        cell = kept.topology
    assert cell.edges == ()  # shrunk down to no edge
    assert result.stopped_early is None


def test_best_is_argmax_of_S_over_the_trajectory(tiny_run):
    best = tiny_run.best
    assert best.score == max(c.score for c in tiny_run.chosen)
    assert all(math.isfinite(c.score) for c in tiny_run.chosen)


def test_same_seed_same_trajectory(tiny_run):
    again = autoshrink(tiny_config(), evaluate_serially)
    assert [(c.step, c.removed_edge, c.result.metric("val_acc")) for c in again.candidates] == [
        (c.step, c.removed_edge, c.result.metric("val_acc")) for c in tiny_run.candidates
    ]


def test_other_seed_other_ops_or_samples(tiny_run):
    cfg = tiny_config(seed=5)
    other = [sample_removals(initial_cell(cfg), 3, 5, 1), initial_cell(cfg).ops]
    assert other != [sample_removals(tiny_run.initial, 3, 0, 1), tiny_run.initial.ops]


def test_failed_candidate_is_recorded_and_never_chosen():
    """The would-be winner of every step fails (as a diverged trial would): the loop must pick another."""
    state = {"calls": 0}

    def failing_best(specs, on_result=None):
        results = evaluate_serially(specs)
        state["calls"] += 1
        if len(results) > 1:
            best_i = max(range(len(results)), key=lambda i: results[i].metric("val_acc"))
            results[best_i] = dataclasses.replace(results[best_i], status="failed", error="diverged: loss became nan")
        return results

    result = autoshrink(tiny_config(), failing_best)
    failed = [c for c in result.candidates if not c.result.ok]
    assert failed and all(c.result.error.startswith("diverged") for c in failed)
    assert all(c.score == -math.inf for c in failed)
    assert not any(c in failed for c in result.chosen)
    assert not any(c.kept for c in failed)
    assert result.best.result.ok


def test_all_candidates_failing_stops_the_search_with_a_reason():
    complete = initial_cell(tiny_config())

    def only_the_complete_dag_trains(specs, on_result=None):
        if specs[0].genome == complete:
            return evaluate_serially(specs)
        return [TrialResult(s.key(), "failed", error="boom") for s in specs]

    result = autoshrink(tiny_config(), only_the_complete_dag_trains)
    assert result.stopped_early == "every candidate of step 1 failed"
    step_1 = [c for c in result.candidates if c.step == 1]
    assert step_1 and not any(c.kept for c in step_1)  # recorded, none kept
    assert result.best.step == 0


def test_stop_edges_stops_early():
    result = autoshrink(tiny_config(stop_edges=4), evaluate_serially)
    assert len(result.chosen[-1].topology.edges) <= 4
    assert len(result.chosen[-2].topology.edges) > 4


def test_a_step_whose_fine_tunes_all_collapsed_is_trained_again_from_scratch():
    """A step where every fine-tuned candidate fell more than the drop below its parent is ranked by from-scratch
    trainings of the same cells; any other step keeps its fine-tuned scores; the keeper is the best final score."""
    ran: list = []

    def recording(specs, on_result=None):  # the real serial evaluator, remembering what it trained
        results = evaluate_serially(specs, on_result=on_result)
        ran.extend(zip(specs, results))
        return results

    drop = 0.1
    announced: list[int] = []
    rescued = autoshrink(tiny_config(protocol="inherit", scratch_if_drop=drop, stop_edges=3), recording,
                         on_step=lambda step, n, edges, round_name: announced.append(step))
    fine_tuned = {(spec.parent.key, spec.genome): r for spec, r in ran if spec.parent is not None}
    from_scratch = {(spec.seed, spec.genome): r for spec, r in ran if spec.parent is None}
    outcomes, collapsed_steps = set(), []
    for step in range(1, len(rescued.chosen)):
        parent = rescued.chosen[step - 1]
        mine = [c for c in rescued.candidates if c.step == step]
        first = [fine_tuned[(parent.result.key, c.topology)] for c in mine]
        collapsed = all(r.metric("val_acc") < parent.result.metric("val_acc") - drop for r in first)
        for c, r in zip(mine, first):
            expected = from_scratch[(derive_seed(0, "trial", step), c.topology)] if collapsed else r
            assert c.from_scratch == collapsed and c.result == expected
        outcomes.add(collapsed)
        collapsed_steps += [step] * collapsed
        assert announced.count(step) == (2 if collapsed else 1)  # a re-training resets the progress bar
        assert rescued.chosen[step].score == max(c.score for c in mine if c.ok)
    assert outcomes == {True, False}, "both kinds of step must occur for this test to mean anything"
    assert rescued.retrained_steps == collapsed_steps  # what summary.json reports


def test_scratch_if_drop_needs_the_inherit_protocol():
    with pytest.raises(ValueError, match="needs --protocol inherit"):
        SearchSettings(protocol="paper", scratch_if_drop=0.1)


@pytest.mark.parametrize("off", ["off", " OFF ", False, None])
def test_scratch_if_drop_off_is_none_and_keeps_the_identity_of_runs_made_before_it(off):
    """``off`` from the CLI, or a bare ``off`` in YAML (read as false), must never become a drop of 0."""
    settings = SearchSettings(protocol="inherit", scratch_if_drop=off)
    assert settings.scratch_if_drop is None
    assert "scratch_if_drop" not in identity(settings)
    assert identity(SearchSettings(protocol="inherit", scratch_if_drop=0.15))["scratch_if_drop"] == 0.15


@pytest.mark.parametrize("bad", [True, "never", 1.5, -0.1])
def test_scratch_if_drop_refuses_what_is_not_a_drop(bad):
    with pytest.raises(ValueError):
        SearchSettings(protocol="inherit", scratch_if_drop=bad)


def screened_config(**search) -> AutoShrinkConfig:
    """Fine-tunes of 3 steps (of 64 of digits' 200 proxy images), screened after 1, the best 2 of 3 going on."""
    training = ImageTraining(epochs=1, batch_size=64, finetune_steps=3)
    task = TINY.model_copy(update={"training": training})
    return AutoShrinkConfig(search=SearchSettings(nodes=4, candidates=3, protocol="inherit", **search), task=task)


def test_a_screened_step_gives_the_full_fine_tune_to_its_best_short_ones_alone():
    """Every candidate gets the short fine-tune; the screen_top best by S get the full one, the very trial an
    unscreened search trains (same key); only those can be kept, and the best of them by its full S is."""
    ran: list = []

    def recording(specs, on_result=None):
        results = evaluate_serially(specs, on_result=on_result)
        ran.extend(zip(specs, results))
        return results

    config = screened_config(screen_steps=1, screen_top=2)
    result = autoshrink(config, recording)
    by_spec = {(s.parent.key if s.parent else None, s.genome, s.task.training.finetune_steps): r for s, r in ran}
    screened_steps = 0
    for step in range(1, len(result.chosen)):
        parent, mine = result.chosen[step - 1], [c for c in result.candidates if c.step == step]
        if len(mine) <= 2:  # too few candidates to screen: trained as without screening
            assert all(c.screen is None and not c.screened_out for c in mine)
            continue
        screened_steps += 1
        short = [by_spec[(parent.result.key, c.topology, 1)] for c in mine]
        assert [c.screen for c in mine] == short
        ranked = sorted(range(len(mine)), key=lambda i: (mine[i].screen_score, -len(mine[i].topology.edges)),
                        reverse=True)
        assert {i for i, c in enumerate(mine) if not c.screened_out} == set(ranked[:2])
        for c in mine:
            if c.screened_out:
                assert c.result == c.screen and not c.kept and c.seconds == c.screen.seconds
            else:  # the full fine-tune is keyed as the unscreened search's trial of that cell
                full = by_spec[(parent.result.key, c.topology, 3)]
                assert c.result == full and full.key == _unscreened_key(config, step, parent, c.topology)
                assert c.seconds == full.seconds + c.screen.seconds
        assert result.chosen[step].score == max(c.score for c in mine if not c.screened_out)
        assert result.chosen[step].result.weights is not None  # handed on: a full fine-tune kept its weights
    assert screened_steps >= 2, "the test needs steps with more candidates than pass screening"
    assert all(spec.keep_weights is False for spec, _ in ran if spec.task.training.finetune_steps == 1)


def test_screen_pass_cuts_lets_every_node_cutting_removal_through_besides_the_best():
    """A removal that takes further edges with it recovers slowest from the parent's weights; with screen_pass_cuts it
    gets the full fine-tune whatever its short S, the screen_top best by S with it, and nothing else passes."""
    config = screened_config(screen_steps=1, screen_top=1, screen_pass_cuts=True)
    result = autoshrink(config, evaluate_serially)
    let_through = 0
    for step in range(1, len(result.chosen)):
        parent, mine = result.chosen[step - 1], [c for c in result.candidates if c.step == step]
        if len(mine) <= 1 or all(c.from_scratch for c in mine):
            continue
        cuts = {i for i, c in enumerate(mine) if len(c.topology.edges) < len(parent.topology.edges) - 1}
        best = max(range(len(mine)), key=lambda i: (mine[i].screen_score, -len(mine[i].topology.edges)))
        assert {i for i, c in enumerate(mine) if not c.screened_out} == cuts | {best}
        let_through += len(cuts - {best})
    assert let_through >= 1, "the test needs a node-cutting removal that the screen alone would have stopped"


def test_screen_pass_cuts_needs_screening():
    with pytest.raises(ValueError, match="needs screen_steps"):
        SearchSettings(protocol="inherit", screen_pass_cuts=True)
    assert "screen_pass_cuts" not in identity(SearchSettings(protocol="inherit", screen_steps=8))


def _unscreened_key(config: AutoShrinkConfig, step: int, parent, topology) -> str:
    from shrinknas.run.trial import ParentWeights, TrialSpec

    weights = ParentWeights(parent.result.key, parent.topology, parent.result.weights)
    return TrialSpec(topology, config.task, derive_seed(0, "trial", step), parent=weights).key()


def test_screening_is_off_by_default_and_keeps_the_identity_of_runs_made_before_it():
    assert "screen_steps" not in identity(SearchSettings(protocol="inherit"))
    assert identity(SearchSettings(protocol="inherit", screen_steps=8))["screen_steps"] == 8


@pytest.mark.parametrize("search, match", [({"screen_steps": 3}, "fewer than the fine-tune's 3"),
                                           ({"screen_steps": 0}, "greater than or equal to 1"),
                                           ({"screen_steps": 1, "screen_top": 0}, "greater than or equal to 1")])
def test_screening_must_be_shorter_than_the_fine_tune(search, match):
    with pytest.raises(ValueError, match=match):
        screened_config(**search)


def test_screening_needs_the_inherit_protocol():
    with pytest.raises(ValueError, match="needs --protocol inherit"):
        SearchSettings(protocol="paper", screen_steps=8)


def test_full_fine_tunes_that_go_on_from_their_screening_pause_are_those_that_start_over():
    """The loop hands each short fine-tune's pause to its full one; without the pauses (a resumed run whose short
    fine-tunes came back from the store) every trial and weight is the same."""
    handed: list = []

    def without_pauses(specs, on_result=None):
        handed.extend(spec.resume is not None for spec in specs if spec.task.training.finetune_steps == 3)
        return evaluate_serially([dataclasses.replace(spec, resume=None) for spec in specs], on_result=on_result)

    config = screened_config(screen_steps=1, screen_top=2)
    resumed, started_over = autoshrink(config, evaluate_serially), autoshrink(config, without_pauses)
    assert any(handed), "the loop must hand pauses on for this test to mean anything"
    assert [(c.result.key, c.result.metric("val_acc"), c.result.weights) for c in resumed.candidates] == \
        [(c.result.key, c.result.metric("val_acc"), c.result.weights) for c in started_over.candidates]
