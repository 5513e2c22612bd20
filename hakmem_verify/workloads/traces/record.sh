#!/usr/bin/env bash
# Record the valgrind --trace-malloc=yes traces kept in this directory.
# Usage: bash hakmem_verify/workloads/traces/record.sh   (needs valgrind and sqlite3: apt-get install valgrind sqlite3)
# valgrind writes its trace on stderr; the program's own output goes to /dev/null.
set -euo pipefail
cd "$(dirname "$0")"
valgrind --trace-malloc=yes ls -l /usr/share/doc/valgrind > /dev/null 2> ls-l.trace
valgrind --trace-malloc=yes sqlite3 :memory: < sqlite3-200-rows.sql > /dev/null 2> sqlite3-200-rows.trace
wc -l ls-l.trace sqlite3-200-rows.trace
