#!/bin/bash
# Submit the array, then a merge that waits for every task (afterany: it
# runs even if a task failed; merge then names the unfinished shard, which
# `--resume` finishes before merging again).
set -euo pipefail
jid=$(sbatch --parsable deploy/slurm/sweep.sbatch)
sbatch --dependency=afterany:"$jid" --wrap 'agentsim merge results/shard-* --out results/merged'
