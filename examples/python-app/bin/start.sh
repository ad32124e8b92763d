#!/bin/sh
# bootstrapScript of python-app. SIMPLE and DATAFLOW jobs never run it: for those the agent starts
# `python -m elasticjob.sdk.runner` with the job's jobClass itself. It is the app's entry point for
# a SCRIPT job registered against this app, and for running a shard by hand: it runs the OrderReport
# job through the same runner. PYTHON names an interpreter that has the elasticjob package
# (default python3); set it in the job's "environment" if the host's python3 does not.
set -eu
cd "$(dirname "$0")/.."
ELASTICJOB_JOB_TYPE=SIMPLE
ELASTICJOB_JOB_CLASS=orders.jobs:OrderReport
export ELASTICJOB_JOB_TYPE ELASTICJOB_JOB_CLASS
exec "${PYTHON:-python3}" -m elasticjob.sdk.runner
