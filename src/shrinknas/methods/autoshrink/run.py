"""An AutoShrink search as a method's run function: the loop (``loop.py``) and the confirm stage wired to the
run's store, trial runner and events, and the summary it leaves.

Its own files: trajectory.jsonl (one line per trained candidate, as it finishes); the store keeps the trial every
step kept and the final pick (``records.py``). A resumed run replays the loop from its seed and finds its finished
trials in the store.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ...config import identity, load_yaml, validated
from ...errors import ShrinkNASError
from ...run.events import Event, EventSink
from ...run.executors import Executor
from ...run.rundir import CONFIG, TRAJECTORY, RunDir
from ...run.runner import IndexCallback
from ...run.store import RunStore
from ...run.trial import TrialResult, TrialSpec
from ..driver import THREADS_KEY, RunContext, run_method
from .config import AutoShrinkConfig
from .confirm import Confirmed, confirm, final_pick
from .loop import Candidate, SearchResult, autoshrink
from .records import record_final, record_step

METHOD = "autoshrink"


def candidate_summary(c: Candidate) -> dict[str, Any]:
    r = c.result
    return {
        "step": c.step,
        "n_edges": len(c.topology.edges),
        "val_acc": r.metric("val_acc"),
        "val_ppl": r.metric("val_ppl"),
        "macs": r.metric("macs"),
        "params": r.metric("params"),
        "S": c.score,
        "genome": c.topology.to_dict(),
    }


def summarize(result: SearchResult, confirmed: list[Confirmed] | None = None) -> dict[str, Any]:
    """``best`` is the final cell: the confirm stage's pick where it ran and a finalist trained, else eq. (7)'s."""
    failed = [c for c in result.candidates if not c.result.ok]
    screening = sum(c.screen is not None for c in result.candidates)
    picked = final_pick(confirmed)
    extra: dict[str, Any] = {}
    if confirmed:
        extra = {"search_best": candidate_summary(result.best), "confirm": {
            "seeds": list(confirmed[0].seeds),
            "finalists": [confirmed_summary(f) for f in confirmed],
            "trial_seconds": round(sum(r.seconds for f in confirmed for r in f.results), 3)}}
    return {
        "best": confirmed_summary(picked) if picked else candidate_summary(result.best),
        **extra,
        "complete_dag": candidate_summary(result.chosen[0]),
        "steps": len(result.chosen) - 1,
        "trials": len(result.candidates),
        **({"screening_trials": screening} if screening else {}),  # short fine-tunes of screened steps
        "failed_trials": len(failed),
        "retrained_steps": result.retrained_steps,
        "trial_seconds": round(sum(c.seconds for c in result.candidates), 3),  # screening fine-tunes included
        "stopped_early": result.stopped_early,
    }


def stored_identity(config: AutoShrinkConfig) -> dict[str, Any]:
    """Everything that decides the shrink loop's trials. The confirm stage is left out: it runs after the loop and
    keys its own trials, so a finished run can be confirmed, or confirmed again with more cells or seeds, by
    running it again with other confirm settings."""
    data = identity(config)
    del data["confirm"]
    return data


def stored_config(store: RunStore) -> AutoShrinkConfig:
    """The settings a stored AutoShrink run was started with (for scripts that study a finished run)."""
    return AutoShrinkConfig.model_validate({k: v for k, v in store.config().items() if k != THREADS_KEY})


def written_config(run_dir: Path | str) -> AutoShrinkConfig:
    """The settings a run wrote to its config.yaml: where only a run's result files were kept (a published results
    folder), its cells can still be re-trained with the task they were searched on."""
    path = RunDir(run_dir).file(CONFIG)
    return validated(AutoShrinkConfig, load_yaml(path), str(path))


def confirmed_summary(f: Confirmed) -> dict[str, Any]:
    """A finalist: its search numbers, then its from-scratch ones per fresh seed and their mean S."""
    return {**candidate_summary(f.candidate),
            "val_acc_fresh": [r.metric("val_acc") for r in f.results], "val_ppl_fresh": [r.metric("val_ppl") for r in f.results],
            "S_fresh": [s if math.isfinite(s) else None for s in f.scores],
            "S_fresh_mean": f.mean_score if math.isfinite(f.mean_score) else None}


def replay(run_dir: Path | str) -> tuple[AutoShrinkConfig, SearchResult]:
    """A finished run's settings and search result, read back from its store without training anything (for
    scripts that compare runs); a trial the store lacks is an error, since replaying it would mean training it."""
    with RunStore.read(Path(run_dir)) as store:
        config = stored_config(store)

        def from_store(specs: list[TrialSpec], on_result: IndexCallback | None = None) -> list[TrialResult]:
            found = store.get_many(spec.key() for spec in specs)
            missing = [spec for spec in specs if spec.key() not in found]
            if missing:
                raise ShrinkNASError(f"{store.path} lacks {len(missing)} trial(s) of this run: is it finished?")
            return [found[spec.key()] for spec in specs]

        return config, autoshrink(config, from_store)


def run(config: AutoShrinkConfig, ctx: RunContext) -> dict[str, Any]:
    """Algorithm 1, then the confirm stage where it is on; every candidate to trajectory.jsonl as its step ends."""
    edges0 = config.search.nodes * (config.search.nodes - 1) // 2
    rounds = {"candidates": "candidates", "screen": "candidates, screening", "finalists": "screened best, full "
              "fine-tune", "from scratch": "again, from scratch"}

    def announce(step: int, trainings: int, edges: int, round_name: str) -> None:
        ctx.runner.label = f"step 0, the complete DAG ({edges} edges)" if step == 0 else \
            f"step {step}, {round_name} (parent: {edges} edges)"
        ctx.emit(Event("progress", "edges removed", done=edges0 - edges, total=edges0))
        ctx.emit(Event("round", "complete DAG" if step == 0 else f"step {step} {rounds.get(round_name, round_name)}",
                       total=trainings))

    with ctx.run.trajectory_writer() as trajectory:
        result = autoshrink(
            config,
            ctx.runner,
            on_step=announce,
            on_candidate=lambda c: trajectory.append(c.record()),
            on_trial_done=lambda c: ctx.emit(Event("advance")),
            on_kept=lambda c: record_step(ctx.store, c.step, c.result.key, c.score),
        )
    ctx.emit(Event("progress", "edges removed", done=edges0, total=edges0))
    confirmed = None
    if config.confirm.top:
        ctx.runner.label = "confirm stage"
        confirmed = confirm(config, result.chosen, ctx.runner,
                            on_start=lambda n: ctx.emit(Event("round", "confirm trainings", total=n)),
                            on_trial_done=lambda: ctx.emit(Event("advance")))
    summary = summarize(result, confirmed)
    summary["warnings"] = final_cell_warnings(summary, ctx.facts.get("n_classes"), config.task.task == "cnn")
    picked = final_pick(confirmed)
    record_final(ctx.store, picked.candidate.result.key if picked else None, picked.mean_score if picked else None,
                 sum(len(f.results) for f in confirmed or ()))
    return summary


#: A final cell whose fresh-seed S is this far below its search S, or whose val_acc is within this of chance, is
#: flagged: at such settings the search's scores say little about the cells.
UNRELIABLE_DROP, CHANCE_MARGIN = 0.10, 0.05


def final_cell_warnings(summary: dict[str, Any], n_classes: int | None, classifier: bool) -> list[str]:
    """What a user should hear about the final cell before trusting it."""
    best, warnings = summary["best"], []
    fresh = best.get("S_fresh_mean")
    if fresh is not None and best["S"] - fresh > UNRELIABLE_DROP:
        warnings.append(f"the final cell scored S {fresh:.4f} on fresh seeds against {best['S']:.4f} in the search: "
                        "at these settings the search's scores are unreliable (train candidates longer, or on a "
                        "larger proxy)")
    accs = [a for a in best.get("val_acc_fresh") or [best.get("val_acc")] if a is not None]
    if classifier and n_classes and accs and sum(accs) / len(accs) <= 1 / n_classes + CHANCE_MARGIN:
        warnings.append(f"the final cell's val_acc {sum(accs) / len(accs):.3f} is at chance ({1 / n_classes:.3f} for "
                        f"{n_classes} classes): nothing was learned at these settings (more epochs, a larger proxy)")
    return warnings


def run_autoshrink(config: AutoShrinkConfig, out: Path | str, executor: Executor | None = None,
                   force_new: bool = False, on_event: EventSink | None = None) -> dict[str, Any]:
    """``run_method`` for AutoShrink (scripts and tests that hold an ``AutoShrinkConfig``)."""
    from ...run.events import ignore

    return run_method("autoshrink", config, out, executor, force_new, on_event or ignore)
