"""``python -m cmrlib runs --profile P [--grids table1,physics] [--jobs 2] [--list] [--commit] [--first-look]``

Trains the runs a profile's results pages need (``cmrlib.experiments.page_grids``) that are not finished by the
current code, ``--jobs`` side by side, runs that start from another run after it. Stopping it at any moment
loses at most the runs in progress: finished runs stay, a killed run resumes from its last checkpoint on the
next call; the workers stop with the driver. ``--list`` only prints what is missing. ``--commit`` commits each
finished run folder (its config, metrics and evaluations; checkpoints are git-ignored) to the repository that
holds runs/, first those that finished while an earlier driver was stopping. Progress goes
to standard output and to runs/logs/<profile>-runs.log.
"""
from __future__ import annotations

import argparse
import datetime
import subprocess
import sys
import time

from cmrlib import experiments as ex
from cmrlib import runs
from cmrlib.train import Terminated


def commit_run(run_dir) -> str:
    """Commit one finished run folder (only its files) in the repository that holds runs/; the outcome."""
    root = runs.project_root()
    relative = str(run_dir)
    message = f"{relative.split('/')[1]}: finished run {relative.split('/', 2)[2]}"
    for attempt in range(5):  # another git command may hold the index for a moment
        added = subprocess.run(["git", "add", "--", relative], cwd=root, capture_output=True, text=True)
        done = added.returncode == 0 and subprocess.run(
            ["git", "commit", "-q", "-m", message, "--", relative], cwd=root, capture_output=True, text=True
        ).returncode == 0
        if done:
            return "committed"
        time.sleep(2 + 3 * attempt)
    return "NOT committed (git failed; commit it by hand)"


def uncommitted_runs(planned) -> list:
    """The finished run folders among ``planned`` that git does not hold as they are on disk: runs that finished
    while an earlier driver was being stopped, or whose evaluations were added later."""
    root = runs.project_root()
    listed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all", "--", "runs"], cwd=root,
                            capture_output=True, text=True)
    changed = {"/".join(line[3:].strip('"').split("/")[:4]) for line in listed.stdout.splitlines()}
    return [run_dir.relative_to(root) for run_dir in sorted(planned)
            if (run_dir / "final.json").exists() and str(run_dir.relative_to(root)) in changed]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cmrlib runs", description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", required=True, help=f"one of {sorted(ex.PLANS)}")
    parser.add_argument("--grids", default=None, help="comma-separated grid names (default: every grid)")
    parser.add_argument("--jobs", type=int, default=2, help="runs trained side by side (default 2)")
    parser.add_argument("--list", action="store_true", help="print the missing runs and stop")
    parser.add_argument("--commit", action="store_true", help="git-commit each run folder as it finishes")
    parser.add_argument("--evaluate", action="store_true",
                        help="instead of training: the evaluations the pages need (multi-view, direction, Figure 5 "
                             "scores) of every finished planned run, cached in its folder (committed with --commit)")
    parser.add_argument("--methods", default=None, help="with --evaluate: only these methods (e.g. cmr,tsm)")
    parser.add_argument("--first-look", action="store_true",
                        help="take the sequential seed rule's look-1 decision once Tables 3-6 have look 1's seeds, "
                             "and record it (runs/<profile>/sequential-look1.json); later calls train look 2")
    args = parser.parse_args(argv)
    if args.first_look:
        from cmrlib import precision

        try:
            record = precision.record_first_look(args.profile)
        except ValueError as error:
            print(f"cmrlib runs: error: {error}", file=sys.stderr)
            return 2
        extended = sum(len(labels) for labels in record["extend"].values())
        print(f"cmrlib runs: {args.profile}: look 1 decided; {extended} config(s) get seeds "
              f"{record['seeds'][0]}-{record['seeds'][-1]}: {record['extend'] or 'none'}")
        return 0
    try:
        ex.check_profile(args.profile)
        grids = [g for g in (args.grids or "").split(",") if g] or None
        missing = ex.missing_runs(args.profile, grids)
        planned = ex.planned_configs(args.profile, grids)
    except ValueError as error:
        print(f"cmrlib runs: error: {error}", file=sys.stderr)
        return 2
    print(f"cmrlib runs: {args.profile}: {len(planned) - len(missing)} of {len(planned)} planned runs finished, "
          f"{len(missing)} missing", flush=True)
    if args.list:
        for config in missing:
            print(f"  {runs.default_run_dir(config).relative_to(runs.project_root())}")
        return 0
    log_path = runs.project_root() / "runs" / "logs" / f"{args.profile}-runs.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)

    def log(text: str) -> None:
        line = f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%dT%H:%M:%SZ} {text}"
        print(line, flush=True)
        with open(log_path, "a") as handle:
            handle.write(line + "\n")

    def finished(run_dir) -> None:
        if args.commit:
            log(f"    {commit_run(run_dir)}")

    if args.commit:
        for run_dir in uncommitted_runs(planned):
            log(f"  {run_dir} finished earlier and is not committed: {commit_run(run_dir)}")
    if args.evaluate:
        methods = [m for m in (args.methods or "").split(",") if m] or None
        done = ex.evaluate_planned(args.profile, grids, methods, log=log, on_finished=finished)
        if (not grids or "table6" in grids) and (not methods or "cmr" in methods):  # claims 10-11's CMR runs
            from cmrlib import figure5

            done += figure5.score_finished(args.profile, log=log, on_finished=finished)
        log(f"done: {done} evaluation(s)")
        return 0
    log(f"training {len(missing)} run(s) of {args.profile}, {args.jobs} side by side")
    stopped = "the runs in progress stopped; each resumes from its last checkpoint on the next call"
    try:
        trained = ex.train_all(args.profile, jobs=args.jobs, log=log, grids=grids, on_finished=finished)
    except ValueError as error:
        log(f"error: {error}")
        return 2
    except KeyboardInterrupt:
        log(f"interrupted (Ctrl-C): {stopped}")
        return 130
    except Terminated:
        log(f"terminated (SIGTERM): {stopped}")
        return 143
    log(f"done: {trained} trained")
    return 0


if __name__ == "__main__":
    sys.exit(main())
