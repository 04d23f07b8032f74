#!/bin/sh
# Compiler launcher for the sanitizer build (scripts/sanitize.sh): runs the
# compile command with -O1 appended, so that it wins over the -O2/-O3 the
# targets ask for: the sanitizers' usual level, quicker to build, clearer reports.
exec "$@" -O1
