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
# 30 MB less peak memory on a plan of 91,000 files (bench/RESULTS.md). Values already
# in the environment are kept.
#
# PGREWIND_NODE names the node to run (default: node on PATH). PGREWIND_INVOKED_AS
# tells main.js the name it was started as (pg_rewind's messages when linked so); a
# wrapper that execs this file (the Ansible role's command) sets it to its own.
self=$(readlink -f -- "$0") || exit 127
PGREWIND_INVOKED_AS=${PGREWIND_INVOKED_AS:-$0}
MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2}
MALLOC_MMAP_THRESHOLD_=${MALLOC_MMAP_THRESHOLD_:-131072}
export PGREWIND_INVOKED_AS MALLOC_ARENA_MAX MALLOC_MMAP_THRESHOLD_
exec "${PGREWIND_NODE:-node}" "${self%/*}/main.js" "$@"
