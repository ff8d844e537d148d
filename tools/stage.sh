#!/usr/bin/env bash
# tools/stage.sh NAME CMD...: run CMD, then print how long the stage took (and its exit status) on stderr,
# so a CI log shows where the minutes went.
name=$1; shift
start=$(date +%s)
echo "[stage] $name: started $(date -u +%H:%M:%S)" >&2
"$@"; status=$?
echo "[stage] $name: $(( $(date +%s) - start )) s (exit $status)" >&2
exit $status
