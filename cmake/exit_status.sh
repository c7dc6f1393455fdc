#!/usr/bin/env bash
# exit_status.sh <expected status[,status...]> <program> [args...] — runs a test's program and fails,
# with a line that scorelift_add_output_test's FAIL_REGULAR_EXPRESSION catches, when its exit status is
# none of the expected ones: CTest ignores the exit status of a test judged by PASS_REGULAR_EXPRESSION,
# so a program that printed the expected line and then crashed (or a refusal that aborted) would
# otherwise pass.
expected=$1
shift
"$@"
status=$?
if [[ ",$expected," != *",$status,"* ]]; then
  echo "scorelift test program exited with status $status (expected $expected)"
  exit 1
fi
exit 0
