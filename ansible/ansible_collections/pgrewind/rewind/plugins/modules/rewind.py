#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgrewind contributors
# PostgreSQL License (see https://opensource.org/licenses/PostgreSQL)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: rewind
short_description: Rewind a diverged PostgreSQL data directory (pg_rewind) to follow a new primary
version_added: 0.1.0
description:
  - Brings an old primary back in sync with the new primary after a failover by copying only what changed since their
    timelines forked, as PostgreSQL's C(pg_rewind) does, for PostgreSQL 13 to 18.
  - Drives C(pgrewind rpc) step by step - C(findDivergence), C(scanWal), C(buildPlan), C(applyPlan), C(writeBackupLabel) and,
    with I(write_recovery_conf), C(writeRecoveryConf).
  - In check mode only the plan is built (nothing on the target changes, not even crash recovery) and the task reports
    C(changed) when a rewind is needed; with C(--diff) the plan is shown. The plan is kept in I(plan_dir) so that a later run
    with I(plan_digest) applies exactly that plan.
  - A target that is in sync (no rewind required) or that was rewound and not started since reports C(changed=false) and is
    not touched, so running the task again is safe.
options:
  write_recovery_conf:
    description:
      - Configure the target as a standby of the source (pg_rewind's C(-R)) - C(primary_conninfo) in C(postgresql.auto.conf) and
        C(standby.signal). Needs I(source_server). A password given in I(source_password) is not written; the standby then needs
        a password file (C(~/.pgpass)).
    type: bool
    default: false
  sync_method:
    description:
      - How the changed files are made durable (pg_rewind's C(--sync-method)).
    type: str
    choices: [fsync, syncfs]
  no_sync:
    description:
      - Do not wait for the changes to be written safely to disk (pg_rewind's C(-N)); for tests only.
    type: bool
    default: false
  plan_digest:
    description:
      - Apply only the plan with this digest, as reviewed from M(pgrewind.rewind.rewind_info) or a check-mode run of this module
        on the same host; it is read from I(plan_dir).
      - A plan that is not there, or whose target or source changed since it was built (C(PLAN_STALE)), fails the task without a
        change to the target. When the target is already in sync the task reports C(changed=false) whatever the digest.
      - A target that needs crash recovery cannot have a reviewed plan; run without I(plan_digest), or start and cleanly stop it first.
    type: str
extends_documentation_fragment:
  - pgrewind.rewind.rewind
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    description: Builds the plan only (findDivergence as a dry run, scanWal, buildPlan); the target is not touched.
  diff_mode:
    support: full
    description: Before is the target's state, timeline and checkpoint; after is the plan (totals per action, the first files).
  platform:
    platforms: posix
seealso:
  - module: pgrewind.rewind.rewind_info
  - name: pg_rewind
    description: PostgreSQL's own tool, whose options and behaviour pgrewind follows.
    link: https://www.postgresql.org/docs/current/app-pgrewind.html
author:
  - pgrewind contributors (!UNKNOWN)
'''

EXAMPLES = r'''
- name: Plan the rewind of the old primary (check mode; the plan is kept on the host)
  pgrewind.rewind.rewind:
    target_pgdata: /var/lib/postgresql/18/main
    source_server: host=db2.example.com user=rewinder dbname=postgres
    source_password: "{{ vault_rewinder_password }}"
  check_mode: true
  register: planned
  become: true
  become_user: postgres

- name: Review it
  ansible.builtin.assert:
    that:
      - planned.plan.fetch_bytes < 50 * 1024 * 1024 * 1024
      - planned.plan.source.timeline > planned.target.identity.timeline

- name: Apply exactly the reviewed plan and make the node a standby of the new primary
  pgrewind.rewind.rewind:
    target_pgdata: /var/lib/postgresql/18/main
    source_server: host=db2.example.com user=rewinder dbname=postgres
    source_password: "{{ vault_rewinder_password }}"
    plan_digest: "{{ planned.plan_digest }}"
    write_recovery_conf: true
  become: true
  become_user: postgres
  async: 7200
  poll: 10

- name: Rewind from a stopped local copy of the new primary, without review
  pgrewind.rewind.rewind:
    target_pgdata: /srv/pg/old
    source_pgdata: /srv/pg/new
    pgrewind_bin: /opt/pgrewind/bin/pgrewind
  become: true
  become_user: postgres
'''

RETURN = r'''
msg:
  description: What happened, in one sentence.
  returned: always
  type: str
  sample: rewound /var/lib/postgresql/18/main - 1234 entries, 52428800 bytes fetched
pgrewind_version:
  description: The version of pgrewind that ran.
  returned: when pgrewind could be started
  type: str
  sample: 0.1.0
target:
  description: The target before the run - the result of the RPC method C(inspect) (identity, control file, running, files, prerequisites).
  returned: when pgrewind could be started
  type: dict
rewound:
  description: The target had already been rewound and has not been started since; nothing was done.
  returned: always
  type: bool
crash_recovery_needed:
  description: Check mode only - the target was not shut down cleanly; a real run completes its crash recovery first, so no plan could be built.
  returned: always
  type: bool
rewind_needed:
  description: The timelines diverged after the target's last common point with the source (false - "no rewind required").
  returned: always
  type: bool
divergence:
  description:
    - The result of C(findDivergence) (divergeLsn, divergeTli, lastCommonCheckpoint, both sides' identities, histories).
    - Not set when a stored plan was applied.
  returned: when computed
  type: dict
  sample: {"divergeLsn": "0/3000060", "divergeTli": 1, "rewindNeeded": true, "lastCommonCheckpoint": {"lsn": "0/2000060", "tli": 1, "redo": "0/2000028"}}
plan:
  description: A summary of the plan that was (or would be) applied; the whole plan is in I(plan_file).
  returned: when a plan was built or loaded
  type: dict
  contains:
    digest:
      description: The plan's digest (sha256 of its canonical JSON); pass it as I(plan_digest) to apply exactly this plan.
      type: str
    rewind_needed:
      description: Whether the plan rewinds the target (else it only copies timeline history files the target lacks).
      type: bool
    fetch_bytes:
      description: Bytes the plan fetches from the source (whole files, tails and changed blocks).
      type: int
    source_bytes:
      description: The size of the source's files.
      type: int
    blocks:
      description: Changed blocks fetched.
      type: int
    entries:
      description: Number of entries (files, directories, links) the plan acts on.
      type: int
    actions:
      description: Per action (create, copy, copy_tail, truncate, remove), the number of entries and the bytes copied or removed.
      type: dict
    changed_blocks:
      description: Relation files with changed blocks - files, blocks, bytes.
      type: dict
    files:
      description: The first I(plan_files) entries, one line each (action, path, sizes, changed blocks).
      type: list
      elements: str
    files_omitted:
      description: Entries not listed in I(files).
      type: int
    journal_bytes:
      description: Bytes the undo journal will hold (old blocks and tails; files moved aside cost nothing).
      type: int
    method:
      description: >-
        How the plan knows which blocks changed - C(kind) C(wal) (from the target's WAL), C(wal+hints)
        (the WAL plus the hint rule, when hint bits were not WAL-logged - blocks of the transactions that ended
        after the divergence from older WAL, indexes of tables with deleted rows compared with the source) or
        C(compare) (every block compared with the source, when asked for), C(why), C(extraBlocks), C(comparison).
      type: dict
    discards:
      description: >-
        What the rewind throws away of the old primary's history after the divergence point (the JSON of
        schemas/defs.json discardReport) - C(transactions) (C(committed), C(aborted), C(prepared), C(firstCommit),
        C(lastCommit), ...), C(databases), C(relations) with rows inserted, updated and deleted (at most
        1,000 relations; each database's C(relationsOmitted) counts the rest).
        Assert on it before applying, e.g. C(planned.plan.discards.transactions.committed == 0).
      type: dict
    target:
      description: The target's identity when the plan was built (pgdata, state, timeline, checkpoint, systemIdentifier).
      type: dict
    source:
      description: The source's identity and description (never a password).
      type: dict
    divergence:
      description: Where the timelines diverged (lsn, tli, last_common_checkpoint).
      type: dict
    backup_label:
      description: Where recovery of the rewound target starts (redo, tli, checkpoint), or null.
      type: dict
    created_at:
      description: When the plan was built.
      type: str
plan_digest:
  description: The digest of the plan (see I(plan.digest)).
  returned: when a plan was built or loaded
  type: str
  sample: 3f1c0c8e5b9d4e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081
plan_file:
  description: Where the plan was saved (check mode) or read from (I(plan_digest)).
  returned: when a plan was saved or loaded
  type: str
apply:
  description: The result of C(applyPlan) (bytesFetched, filesCopied, filesTruncated, filesRemoved, dirsCreated, dirsRemoved, symlinksCreated, entriesApplied).
  returned: when the plan was applied
  type: dict
finish:
  description: The result of C(writeBackupLabel) (backupLabel, controlFileUpdated, synced).
  returned: when the plan was applied
  type: dict
bytes_copied:
  description: Bytes fetched from the source and written to the target (0 when nothing was applied).
  returned: always
  type: int
recovery_conf:
  description: The result of C(writeRecoveryConf) (changed, files, path, conninfo with any password masked).
  returned: when I(write_recovery_conf) is true and the target was not left alone for another reason
  type: dict
durations:
  description: Seconds each RPC method took, by method name.
  returned: always
  type: dict
  sample: {"inspect": 0.004, "findDivergence": 0.05, "scanWal": 0.4, "buildPlan": 0.1, "applyPlan": 1.2, "writeBackupLabel": 0.3}
progress:
  description: The last C($/progress) notification of each phase (scanWal, applyPlan, sync) - done and total.
  returned: always
  type: dict
rpc_error:
  description: On failure, the error - code (JSON-RPC), kind (pgrewind's error code such as C(PLAN_STALE)), message, detail, hint.
  returned: on failure
  type: dict
rpc_log:
  description: On failure, the last log lines of C(pgrewind rpc) (its stderr).
  returned: on failure
  type: list
  elements: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pgrewind.rewind.plugins.module_utils.rpc_client import (
    RpcClientError, RpcError)
from ansible_collections.pgrewind.rewind.plugins.module_utils.rewind_common import (
    COMMON_MUTUALLY_EXCLUSIVE, COMMON_REQUIRED_ONE_OF, DIGEST_RE, PlanStore, common_argument_spec,
    fail_rpc, open_session, plan_diff, plan_dir, plan_has_work, plan_in_file, plan_summary, rewound_pending, sides, step_options)


class Rewind(object):

    def __init__(self, module, client):
        self.module = module
        self.client = client
        self.p = module.params
        self.check = module.check_mode
        self.target, self.source = sides(module)
        self.store = PlanStore(plan_dir(module))
        self.block_size = 8192
        self.result = dict(changed=False, rewound=False, crash_recovery_needed=False, rewind_needed=False,
                           bytes_copied=0)

    def call(self, method, params):
        return self.client.call(method, params)

    def step(self, method, dry_run=False, **extra):
        params = dict(target=self.target, source=self.source,
                      options=step_options(self.module, dry_run=dry_run,
                                           extra=dict(noSync=True if self.p['no_sync'] else None,
                                                      syncMethod=self.p['sync_method'])))
        params.update(extra)
        return self.call(method, params)

    def build_plan(self, dry_run):
        """findDivergence, scanWal, buildPlan; returns (divergence, plan)."""
        divergence = self.step('findDivergence', dry_run=dry_run)
        self.result['divergence'] = divergence
        self.result['rewind_needed'] = divergence['rewindNeeded']
        extra = dict(divergence=divergence)
        if divergence['rewindNeeded']:
            extra['scan'] = self.step('scanWal', dry_run=dry_run, divergence=divergence, progressToken='scanWal')
        plan = self.step('buildPlan', dry_run=dry_run, **extra)
        return divergence, plan

    def show_plan(self, target_info, plan):
        summary = plan_summary(plan, self.block_size, self.p['plan_files'])
        self.result['plan'] = summary
        self.result['plan_digest'] = plan['digest']
        self.result['rewind_needed'] = plan['rewindNeeded']
        if self.module._diff:
            self.result['diff'] = plan_diff(target_info, plan, summary)
        return summary

    def save_plan(self, plan):
        try:
            self.result['plan_file'] = self.store.save(plan)
        except (IOError, OSError) as e:
            self.module.warn('could not save the plan in %s (%s): it cannot be applied by its digest' % (self.store.directory, e))

    def recovery_conf(self):
        if not self.p['write_recovery_conf']:
            return
        rc = self.call('writeRecoveryConf', dict(target=self.target, source=self.source,
                                                 options=dict(dryRun=True) if self.check else {}))
        self.result['recovery_conf'] = rc
        if rc.get('changed'):
            self.result['changed'] = True

    def apply(self, plan):
        with plan_in_file(plan) as ref:
            applied = self.step('applyPlan', progressToken='applyPlan', **ref)
            self.result['apply'] = applied
            self.result['bytes_copied'] = applied['bytesFetched']
            self.result['changed'] = True
            self.result['finish'] = self.step('writeBackupLabel', progressToken='sync', **ref)
        try:
            self.store.purge(self.target['pgdata'])
        except (IOError, OSError) as e:
            self.module.warn('could not remove the stale plans of %s from %s: %s' % (self.target['pgdata'], self.store.directory, e))
        self.result['msg'] = 'rewound %s: %d entries, %d bytes fetched' % (
            self.target['pgdata'], applied['entriesApplied'], applied['bytesFetched'])
        if not plan['rewindNeeded']:
            self.result['msg'] = 'no rewind required; copied %d timeline history file(s) the target lacked' % applied['filesCopied']

    def run(self):
        r = self.result
        r['pgrewind_version'] = self.call('rpc.discover', None)['info']['version']
        target_info = self.call('inspect', {'pgdata': self.target['pgdata']})
        r['target'] = target_info
        self.block_size = target_info['control']['blockSize']
        source_info = None
        if 'pgdata' in self.source:
            source_info = self.call('inspect', {'pgdata': self.source['pgdata']})
        if rewound_pending(target_info, source_info):
            r['rewound'] = True
            r['msg'] = 'the target was rewound and has not been started since: nothing to do but start it'
            self.recovery_conf()
            return
        if self.p['plan_digest']:
            return self.run_reviewed(target_info)

        try:
            divergence, plan = self.build_plan(dry_run=self.check)
        except RpcError as e:
            if self.check and e.kind == 'TARGET_NOT_CLEAN':
                r['changed'] = True
                r['crash_recovery_needed'] = True
                r['msg'] = ('the target was not shut down cleanly: a real run completes its crash recovery first, '
                            'so no plan can be shown in check mode')
                self.module.warn(r['msg'])
                if self.module._diff:
                    r['diff'] = dict(before='state: %s\n' % target_info['control']['state'],
                                     after='state: shut down (crash recovery in single-user mode), then rewound\n')
                return
            raise
        self.show_plan(target_info, plan)
        work = plan_has_work(plan)
        if self.check:
            self.save_plan(plan)
            r['changed'] = work
            r['msg'] = ('a rewind is needed: plan %s fetches %d bytes' % (plan['digest'], plan['totals']['fetchBytes'])
                        if plan['rewindNeeded'] else
                        'no rewind required%s' % ('; timeline history files to copy' if work else ''))
            self.recovery_conf()
            return
        if not work:
            r['changed'] = divergence['crashRecovered']
            r['msg'] = 'no rewind required' + (' (crash recovery was completed first)' if divergence['crashRecovered'] else '')
            self.recovery_conf()
            return
        self.apply(plan)
        self.recovery_conf()

    def run_reviewed(self, target_info):
        """Apply exactly the stored plan with plan_digest, or nothing."""
        r = self.result
        digest = self.p['plan_digest']
        plan = self.store.load(digest)
        if plan is not None and not plan_has_work(plan):
            # a reviewed "in sync" plan: whether the target still is, a fresh look tells
            plan = None
        if plan is None:
            try:
                divergence, fresh = self.build_plan(dry_run=True)
            except RpcError as e:
                if e.kind == 'TARGET_NOT_CLEAN':
                    self.module.fail_json(msg='no reviewed plan with digest %s is in %s, and the target was not shut down cleanly: '
                                              'start and cleanly stop it, review a new plan, or run without plan_digest' % (digest, self.store.directory),
                                          **r)
                raise
            if not plan_has_work(fresh):
                r['msg'] = 'no rewind required: the target is in sync with the source'
                self.recovery_conf()
                return
            self.show_plan(target_info, fresh)
            self.save_plan(fresh)
            self.module.fail_json(msg='no reviewed plan with digest %s is in %s (or it had nothing to do, and now there is something); '
                                      'the target was left unchanged. The current plan has digest %s (saved): review it and run again '
                                      'with that digest' % (digest, self.store.directory, fresh['digest']),
                                  **r)
        r['plan_file'] = self.store.path(digest)
        self.show_plan(target_info, plan)
        if self.check:
            # the stored plan must still apply: its digest, and both sides unchanged since
            with plan_in_file(plan) as ref:
                self.step('applyPlan', dry_run=True, **ref)
            r['changed'] = plan_has_work(plan)
            r['msg'] = 'the reviewed plan %s would be applied' % digest
            self.recovery_conf()
            return
        self.apply(plan)
        self.recovery_conf()


def main():
    argument_spec = common_argument_spec()
    argument_spec.update(
        write_recovery_conf=dict(type='bool', default=False),
        sync_method=dict(type='str', choices=['fsync', 'syncfs']),
        no_sync=dict(type='bool', default=False),
        plan_digest=dict(type='str'),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           mutually_exclusive=COMMON_MUTUALLY_EXCLUSIVE,
                           required_one_of=COMMON_REQUIRED_ONE_OF)
    p = module.params
    if p['write_recovery_conf'] and not p['source_server']:
        module.fail_json(msg='write_recovery_conf needs source_server (the standby connects to it)')
    if p['plan_digest'] is not None and not DIGEST_RE.match(p['plan_digest']):
        module.fail_json(msg='plan_digest must be a plan digest: 64 lower-case hexadecimal digits')

    client = open_session(module)
    job = Rewind(module, client)
    try:
        job.run()
    except (RpcError, RpcClientError) as e:
        job.result['durations'] = dict(client.durations)
        job.result['progress'] = dict(client.progress)
        fail_rpc(module, client, e, job.result)
    finally:
        client.close()
    job.result['durations'] = dict(client.durations)
    job.result['progress'] = dict(client.progress)
    job.result.setdefault('msg', 'done')
    module.exit_json(**job.result)


if __name__ == '__main__':
    main()
