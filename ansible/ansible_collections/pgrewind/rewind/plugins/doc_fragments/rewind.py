# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgrewind contributors
# PostgreSQL License (see https://opensource.org/licenses/PostgreSQL)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    # The options every pgrewind.rewind module shares: where the target and the
    # source are, how to run pgrewind, where reviewed plans are kept.
    DOCUMENTATION = r'''
options:
  target_pgdata:
    description:
      - The data directory to rewind (the old primary), on the managed host.
      - It must be cleanly stopped, or crashed (a real run of M(pgrewind.rewind.rewind) completes its crash recovery first).
      - The module must run as the data directory's owner (C(become_user=postgres)); pgrewind refuses to run as root.
    type: path
    required: true
  source_pgdata:
    description:
      - A cleanly stopped copy of the new primary's data directory on the managed host.
      - Exactly one of I(source_pgdata) and I(source_server) is required.
    type: path
  source_server:
    description:
      - A libpq connection string (C(key=value) or a C(postgresql://) URI) of the running new primary (or, on 14+, a standby of it).
      - The role needs C(LOGIN) and C(EXECUTE) on C(pg_ls_dir), C(pg_stat_file) and C(pg_read_binary_file), or superuser.
      - Give the password in I(source_password), not here; a password found here is masked in the module's output, but
        I(write_recovery_conf) writes the connection string, password included, into C(postgresql.auto.conf) (as pg_rewind -R does).
    type: str
  source_password:
    description:
      - The password of the I(source_server) role. It is handed to C(pgrewind rpc) as C(PGPASSWORD) in its environment, never on
        its command line, and is never logged, written or returned.
    type: str
  restore_target_wal:
    description:
      - Fetch WAL the target lacks with its C(restore_command) (pg_rewind's C(-c)).
    type: bool
    default: false
  config_file:
    description:
      - The target's C(postgresql.conf) when it is not in the data directory (pg_rewind's C(--config-file)).
    type: path
  pg_bindir:
    description:
      - The directory of the target's PostgreSQL binaries (C(postgres) for crash recovery and I(restore_target_wal)).
    type: path
  pgrewind_bin:
    description:
      - The pgrewind executable (a path, or a name looked up in C(PATH)); the role C(pgrewind.rewind.install) installs it.
    type: path
    default: pgrewind
  timeout:
    description:
      - Seconds the whole pgrewind session may take. When they are up, the running step is cancelled at its next safe point
        (a cancelled step can be run again) and the child is stopped. C(0) means no limit.
      - For long rewinds also use the task keywords C(async) and C(poll).
    type: int
    default: 3600
  plan_dir:
    description:
      - Where plans built by M(pgrewind.rewind.rewind_info) and check-mode runs of M(pgrewind.rewind.rewind) are kept on the managed
        host, one file per plan named by its digest, so that a later run with I(plan_digest) applies exactly the reviewed plan.
      - Plans contain paths and identities, never a password. The plans of a target are removed once one of them was applied.
      - Default - C(.pgrewind/plans) in the home directory of the user the module runs as (the I(become_user)).
    type: path
  plan_files:
    description:
      - How many plan entries the plan summary (and the diff) lists.
    type: int
    default: 20
requirements:
  - pgrewind on the managed host (see the role pgrewind.rewind.install)
  - Python 3.6 or later on the managed host
notes:
  - The modules talk to C(pgrewind rpc) (JSON-RPC 2.0, one JSON message per line on stdin/stdout), one step per request.
'''
