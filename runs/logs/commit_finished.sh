#!/usr/bin/env bash
# Stage the finished runs of a profile (folders with final.json) and its cost caches; leave running ones out.
set -euo pipefail
cd "$(dirname "$0")/../.."
profile=${1:-cpu-powered}
for final in runs/$profile/*/*/final.json; do git add "$(dirname "$final")"; done
git add -f runs/$profile/flops.json 2>/dev/null || true
