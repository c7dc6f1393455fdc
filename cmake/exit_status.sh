#!/usr/bin/env bash
# exit_status.sh <program> [args...] — runs a test's program and, when it fails, prints a line that the
# test's FAIL_REGULAR_EXPRESSION (SCORELIFT_EXIT_FAILURE) catches: CTest ignores the exit status of a
# test judged by PASS_REGULAR_EXPRESSION, so a program that printed the expected line and then crashed
# would otherwise pass.
"$@"
status=$?
((status == 0)) || echo "scorelift test program exited with status $status"
exit "$status"
