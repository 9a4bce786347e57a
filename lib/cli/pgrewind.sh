#!/bin/sh
# The pgrewind command (npm's bin, the Ansible role's command, the pg_rewind that HA
# tools call when linked under that name): node running main.js next to this file.
#
# It exists for glibc's malloc, which must be tuned before node starts (the variables
# are read at its first allocation). Node's Buffers and typed arrays are malloc'd; each
# big one freed raises malloc's dynamic mmap threshold (128 kB up to 4 MB, measured),
# after which such blocks come from the heap and arenas, whose holes stay resident.
# A fixed 128 kB threshold keeps big blocks in their own mappings, returned when
# freed, and two arenas keep the worker threads from spreading over sixteen: about
# 25 MB less peak memory on a plan of 90,000 files (bench/RESULTS.md). Values already
# set (non-empty) are kept; those set here are named in PGREWIND_LAUNCHER_SET, and
# main.js takes them out of its environment (lib/cli/launched.ts): the processes it
# starts (postgres, restore_command) get the environment they were given.
#
# PGREWIND_NODE names the node to run (default: node on PATH). PGREWIND_INVOKED_AS
# tells main.js the name it was started as (pg_rewind's messages when linked so); a
# wrapper that execs this file (the Ansible role's command) sets it to its own.
self=$(readlink -f -- "$0") || exit 127
main=${self%/*}/main.js
if [ ! -f "$main" ]; then
  echo "$0: $main not found: link the pgrewind command where it is wanted, do not copy it" >&2
  exit 127
fi
set_here=
if [ -z "$MALLOC_ARENA_MAX" ]; then MALLOC_ARENA_MAX=2; set_here="$set_here MALLOC_ARENA_MAX"; fi
if [ -z "$MALLOC_MMAP_THRESHOLD_" ]; then MALLOC_MMAP_THRESHOLD_=131072; set_here="$set_here MALLOC_MMAP_THRESHOLD_"; fi
PGREWIND_LAUNCHER_SET=${set_here# }
PGREWIND_INVOKED_AS=${PGREWIND_INVOKED_AS:-$0}
export MALLOC_ARENA_MAX MALLOC_MMAP_THRESHOLD_ PGREWIND_LAUNCHER_SET PGREWIND_INVOKED_AS
exec "${PGREWIND_NODE:-node}" "$main" "$@"
