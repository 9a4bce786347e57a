# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgrewind contributors
# PostgreSQL License (see https://opensource.org/licenses/PostgreSQL)

"""The modules' error paths against a fake ``pgrewind rpc`` (the real one, on
real clusters, is exercised by test/ansible-*.test.ts with ansible-playbook)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import sys

import pytest

from ansible.module_utils import basic
from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.pgrewind.rewind.plugins.modules import rewind, rewind_info

FAKE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'fake_pgrewind.py')


def fake_bin(tmp_path, mode):
    path = str(tmp_path / ('pgrewind-' + mode))
    with open(path, 'w') as f:
        f.write('#!/bin/sh\nexec "%s" "%s" %s "$@"\n' % (sys.executable, FAKE, mode))
    os.chmod(path, 0o755)
    return path


def run_module(mod, capsys, **args):
    args.setdefault('_ansible_remote_tmp', '/tmp')
    args.setdefault('_ansible_keep_remote_files', False)
    basic._ANSIBLE_ARGS = to_bytes(json.dumps({'ANSIBLE_MODULE_ARGS': args}))
    with pytest.raises(SystemExit):
        mod.main()
    out = capsys.readouterr().out
    return out, json.loads(out)


@pytest.mark.parametrize('mod', [rewind, rewind_info])
def test_a_child_that_dies_fails_the_task_with_its_log(mod, tmp_path, capsys):
    _, r = run_module(mod, capsys, target_pgdata='/nonexistent/t', source_pgdata='/nonexistent/s',
                      pgrewind_bin=fake_bin(tmp_path, 'die'), plan_dir=str(tmp_path / 'plans'))
    assert r['failed'] is True
    assert r['changed'] is False
    assert r['rpc_error']['kind'] == 'RPC_CHILD_EXITED'
    assert r['rpc_error']['returncode'] == 3
    assert 'boom' in r['msg']


def test_the_password_is_masked_even_when_the_child_echoes_it(tmp_path, capsys):
    secret = 'unit-secret-%d' % os.getpid()
    out, r = run_module(rewind, capsys, target_pgdata='/nonexistent/t', source_server='host=/nonexistent port=1',
                        source_password=secret, pgrewind_bin=fake_bin(tmp_path, 'ok'), plan_dir=str(tmp_path / 'plans'))
    assert r['failed'] is True
    assert r['rpc_error']['kind'] == 'TARGET_IO'
    assert r['pgrewind_version'] == '0.0.0-fake'
    assert secret not in out
    assert '********' in r['msg']


def test_a_password_in_the_connection_string_is_masked(tmp_path, capsys):
    secret = 'dsn-secret-%d' % os.getpid()
    out, r = run_module(rewind, capsys, target_pgdata='/nonexistent/t',
                        source_server='host=/nonexistent port=1 password=%s' % secret,
                        pgrewind_bin=fake_bin(tmp_path, 'die'), plan_dir=str(tmp_path / 'plans'))
    assert r['failed'] is True
    assert secret not in out


def test_a_timeout_cancels_and_fails(tmp_path, capsys):
    _, r = run_module(rewind_info, capsys, target_pgdata='/nonexistent/t', source_pgdata='/nonexistent/s',
                      pgrewind_bin=fake_bin(tmp_path, 'ignore'), timeout=1, plan_dir=str(tmp_path / 'plans'))
    assert r['failed'] is True
    assert r['rpc_error']['kind'] == 'RPC_TIMEOUT'


def test_missing_binary(tmp_path, capsys):
    _, r = run_module(rewind, capsys, target_pgdata='/t', source_pgdata='/s', pgrewind_bin=str(tmp_path / 'nope'))
    assert r['failed'] is True
    assert 'is not an executable file' in r['msg']


def test_option_checks(tmp_path, capsys):
    _, r = run_module(rewind, capsys, target_pgdata='/t', source_pgdata='/s', write_recovery_conf=True)
    assert r['failed'] and 'write_recovery_conf needs source_server' in r['msg']
    _, r = run_module(rewind, capsys, target_pgdata='/t', source_pgdata='/s', plan_digest='abc')
    assert r['failed'] and 'plan_digest must be' in r['msg']
    _, r = run_module(rewind, capsys, target_pgdata='/t', source_pgdata='/s', source_server='host=x')
    assert r['failed'] and 'mutually exclusive' in r['msg']
    _, r = run_module(rewind_info, capsys, target_pgdata='/t')
    assert r['failed'] and 'one of the following is required' in r['msg']
