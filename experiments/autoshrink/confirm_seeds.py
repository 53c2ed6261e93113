"""What the confirm stage would pick with fewer fresh seeds (``--confirm-seeds R``), from finished runs alone.

The stage's seeds are derived in order (the first R of a 2-seed stage are an R-seed stage's seeds) and each training
is a trial of the run's store, so an R-seed stage's pick is the finalist with the best mean over the first R of
the recorded scores, ranked as the stage ranks (best mean S, then fewer edges). No training: summary.json suffices,
so committed run folders do. Whether a changed pick is worse is for ``reevaluate.py --finalists`` to judge.
Usage: python experiments/autoshrink/confirm_seeds.py experiments/autoshrink/searches [--seeds 1] [--out F]
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

from emit import emit  # experiments/autoshrink/emit.py

from shrinknas.methods.autoshrink.loop import preference


def pick(finalists: list[dict], seeds: int) -> dict:
    return max(finalists, key=lambda f: preference(statistics.fmean(f["S_fresh"][:seeds]), len(f["cell"]["edges"])))


def run_row(summary: dict, seeds: int) -> dict[str, Any] | None:
    confirm = summary.get("confirm") or {}
    finalists = confirm.get("finalists") or []
    if not finalists or len(finalists[0]["S_fresh"]) <= seeds:
        return None
    full, fewer = pick(finalists, len(finalists[0]["S_fresh"])), pick(finalists, seeds)
    return {"finalists": [f["step"] for f in finalists], "pick_step": full["step"], "fewer_seeds_pick_step": fewer["step"],
            "same_pick": fewer["cell"] == full["cell"], "confirm_trial_seconds": round(confirm["trial_seconds"], 1)}


def report(results: Path, seeds: int) -> dict[str, Any]:
    rows = {}
    for path in sorted(results.rglob("summary.json")):
        row = run_row(json.loads(path.read_text()), seeds)
        if row is not None:
            rows[path.parent.relative_to(results).as_posix()] = row
    return {"seeds": seeds, "runs": len(rows), "same_pick": sum(r["same_pick"] for r in rows.values()),
            "by_run": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("results", type=Path, help="a folder whose run folders (at any depth) hold summary.json")
    parser.add_argument("--seeds", type=int, default=1, help="fresh seeds the cheaper confirm stage would use")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    emit(report(args.results, args.seeds), args.out)


if __name__ == "__main__":
    main()
