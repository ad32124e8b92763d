#!/bin/sh
# bootstrapScript of script-app: one line per shard, built from the sharding context the agent exports.
# Runs under any POSIX sh; a missing variable stops it with a message naming the variable.
set -eu

printf 'shard %s/%s of %s parameter=%s task=%s\n' \
    "${ELASTICJOB_SHARDING_ITEM:?is not set}" \
    "${ELASTICJOB_SHARDING_TOTAL_COUNT:?is not set}" \
    "${ELASTICJOB_JOB_NAME:?is not set}" \
    "${ELASTICJOB_SHARDING_PARAMETER:-}" \
    "${ELASTICJOB_TASK_ID:?is not set}"
