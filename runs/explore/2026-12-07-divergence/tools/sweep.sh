#!/bin/bash
# usage: sweep.sh WT DATA TAG run-dir...
WT=$1; DATA=$2; TAG=$3; shift 3
cd $WT; export PYTHONPATH=$WT CMR_ROOT=/work/diverge/root OMP_NUM_THREADS=1 CMR_QUIET=1
for r in "$@"; do
  name=$(basename $r)
  committed=$(/work/main/.venv/bin/python -c "import json,sys;print(repr(json.loads(open('$r/metrics.jsonl').readline())['loss']))")
  got=$(/work/main/.venv/bin/python /work/diverge/tools/one_epoch.py $r $DATA /work/diverge/out/$TAG-$name 2>&1 | grep -E 'EPOCH1|Error|error' | tail -1)
  utc=$(/work/main/.venv/bin/python -c "import json;p=json.load(open('$r/config.json'))['provenance'];print(p['utc_time'][11:19],p['git_commit'][:7],p['git_dirty'])")
  echo "$TAG $utc $name committed=$committed remake=$got"
done
