#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgrewind contributors
# PostgreSQL License (see https://opensource.org/licenses/PostgreSQL)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: rewind_info
short_description: Inspect a PostgreSQL data directory to rewind, its divergence from the source, and the plan
version_added: 0.1.0
description:
  - Reads what a rewind of I(target_pgdata) from the source would do, without changing the target -
    C(inspect) of the target (and of a local source), C(findDivergence) as a dry run, C(scanWal) and C(buildPlan).
  - The plan is kept in I(plan_dir) on the managed host, so that M(pgrewind.rewind.rewind) with I(plan_digest) applies
    exactly the plan reviewed here.
  - A running target, one that was rewound and not started since, and one that was not shut down cleanly are reported,
    not failed; no plan can be built for them.
  - Never reports C(changed).
options:
  plan:
    description:
      - Compute the divergence and the plan. With C(false) only the data directories are inspected.
    type: bool
    default: true
extends_documentation_fragment:
  - pgrewind.rewind.rewind
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    description: The module changes nothing, so it runs the same in check mode.
  diff_mode:
    support: none
  platform:
    platforms: posix
seealso:
  - module: pgrewind.rewind.rewind
author:
  - pgrewind contributors (!UNKNOWN)
'''

EXAMPLES = r'''
- name: What would rewinding the old primary from the new one do?
  pgrewind.rewind.rewind_info:
    target_pgdata: /var/lib/postgresql/18/main
    source_server: host=db2.example.com user=rewinder dbname=postgres
    source_password: "{{ vault_rewinder_password }}"
  register: info
  become: true
  become_user: postgres

- name: Only rewind small divergences automatically
  ansible.builtin.assert:
    that:
      - info.plan.fetch_bytes < 10 * 1024 * 1024 * 1024
    fail_msg: "the rewind would copy {{ info.plan.fetch_bytes }} bytes; review plan {{ info.plan_digest }} by hand"

- name: Apply the plan reviewed above
  pgrewind.rewind.rewind:
    target_pgdata: /var/lib/postgresql/18/main
    source_server: host=db2.example.com user=rewinder dbname=postgres
    source_password: "{{ vault_rewinder_password }}"
    plan_digest: "{{ info.plan_digest }}"
  become: true
  become_user: postgres
'''

RETURN = r'''
msg:
  description: The state of the target, in one sentence.
  returned: always
  type: str
pgrewind_version:
  description: The version of pgrewind that ran.
  returned: always
  type: str
target:
  description: The target - the result of the RPC method C(inspect) (pgdata, identity, control, running, pid, files, prerequisites).
  returned: always
  type: dict
source:
  description: A local source (I(source_pgdata)) - the result of C(inspect). Null for a source server.
  returned: always
  type: dict
target_running:
  description: A server is running on the target; it must be stopped before a rewind.
  returned: always
  type: bool
rewound:
  description: The target was rewound and has not been started since; nothing is left to do but start it.
  returned: always
  type: bool
crash_recovery_needed:
  description: The target was not shut down cleanly; M(pgrewind.rewind.rewind) completes its crash recovery first, so no plan could be built.
  returned: always
  type: bool
rewind_needed:
  description: The target's WAL goes past the point where the timelines diverged (false - "no rewind required").
  returned: always
  type: bool
in_sync:
  description: No rewind is required and there is nothing to copy - M(pgrewind.rewind.rewind) would report C(changed=false).
  returned: always
  type: bool
divergence:
  description: The result of C(findDivergence) (divergeLsn, divergeTli, lastCommonCheckpoint, targetWalEnd, both sides' identities and histories).
  returned: when computed
  type: dict
plan:
  description: A summary of the plan, as M(pgrewind.rewind.rewind) returns it (digest, fetch_bytes, actions, changed_blocks, files, ...).
  returned: when computed
  type: dict
plan_digest:
  description: The digest of the plan; pass it to M(pgrewind.rewind.rewind) as I(plan_digest).
  returned: when computed
  type: str
plan_file:
  description: Where the whole plan was saved on the managed host.
  returned: when computed
  type: str
durations:
  description: Seconds each RPC method took, by method name.
  returned: always
  type: dict
rpc_error:
  description: On failure, the error - code, kind (pgrewind's error code), message, detail, hint.
  returned: on failure
  type: dict
rpc_log:
  description: On failure, the last log lines of C(pgrewind rpc).
  returned: on failure
  type: list
  elements: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pgrewind.rewind.plugins.module_utils.rpc_client import (
    RpcClientError, RpcError)
from ansible_collections.pgrewind.rewind.plugins.module_utils.rewind_common import (
    COMMON_MUTUALLY_EXCLUSIVE, COMMON_REQUIRED_ONE_OF, PlanStore, common_argument_spec, fail_rpc,
    open_session, plan_dir, plan_has_work, plan_summary, rewound_pending, sides, step_options)


def run(module, client, result):
    p = module.params
    target, source = sides(module)
    result['pgrewind_version'] = client.call('rpc.discover')['info']['version']
    target_info = client.call('inspect', {'pgdata': target['pgdata']})
    result['target'] = target_info
    if 'pgdata' in source:
        result['source'] = client.call('inspect', {'pgdata': source['pgdata']})
    if target_info['running']:
        result['target_running'] = True
        result['msg'] = 'a server (PID %s) is running on the target; stop it before a rewind' % target_info['pid']
        return
    if rewound_pending(target_info, result['source']):
        result['rewound'] = True
        result['msg'] = 'the target was rewound and has not been started since: start it'
        return
    if not p['plan']:
        result['msg'] = 'inspected'
        return
    opts = step_options(module, dry_run=True)
    try:
        divergence = client.call('findDivergence', dict(target=target, source=source, options=opts))
    except RpcError as e:
        if e.kind != 'TARGET_NOT_CLEAN':
            raise
        result['crash_recovery_needed'] = True
        result['msg'] = 'the target was not shut down cleanly: a rewind completes its crash recovery first, so no plan can be shown'
        return
    result['divergence'] = divergence
    result['rewind_needed'] = divergence['rewindNeeded']
    params = dict(target=target, source=source, options=opts, divergence=divergence)
    if divergence['rewindNeeded']:
        params['scan'] = client.call('scanWal', dict(params, progressToken='scanWal'))
    plan = client.call('buildPlan', params)
    result['plan'] = plan_summary(plan, target_info['control']['blockSize'], p['plan_files'])
    result['plan_digest'] = plan['digest']
    result['in_sync'] = not plan_has_work(plan)
    try:
        result['plan_file'] = PlanStore(plan_dir(module)).save(plan)
    except (IOError, OSError) as e:
        module.warn('could not save the plan in %s (%s): it cannot be applied by its digest' % (plan_dir(module), e))
    if result['in_sync']:
        result['msg'] = 'no rewind required: the target is in sync with the source'
    elif plan['rewindNeeded']:
        result['msg'] = 'a rewind is needed: plan %s fetches %d bytes' % (plan['digest'], plan['totals']['fetchBytes'])
    else:
        result['msg'] = 'no rewind required, but the target lacks timeline history files of the source'


def main():
    argument_spec = common_argument_spec()
    argument_spec.update(plan=dict(type='bool', default=True))
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           mutually_exclusive=COMMON_MUTUALLY_EXCLUSIVE,
                           required_one_of=COMMON_REQUIRED_ONE_OF)
    result = dict(changed=False, source=None, target_running=False, rewound=False, crash_recovery_needed=False,
                  rewind_needed=False, in_sync=False)
    client = open_session(module)
    try:
        run(module, client, result)
    except (RpcError, RpcClientError) as e:
        result['durations'] = dict(client.durations)
        fail_rpc(module, client, e, result)
    finally:
        client.close()
    result['durations'] = dict(client.durations)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
