# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgrewind contributors
# PostgreSQL License (see https://opensource.org/licenses/PostgreSQL)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sys
import time

import pytest

from ansible_collections.pgrewind.rewind.plugins.module_utils.rpc_client import (
    RpcChildExited, RpcClient, RpcError, RpcProtocolError, RpcSpawnError, RpcTimeout)

FAKE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'fake_pgrewind.py')


def fake(mode, **kw):
    return RpcClient([sys.executable, FAKE, mode, 'rpc'], **kw)


def gone(pid):
    """The child was reaped: no process (not even a zombie) has its pid."""
    return not os.path.exists('/proc/%d' % pid)


def test_results_progress_and_clean_exit():
    with fake('ok') as c:
        pid = c.proc.pid
        assert c.call('echo', {'a': [1, 2]}) == {'a': [1, 2]}
        assert c.call('progress') == 'done'
        assert c.progress == {'scanWal': {'done': 2, 'total': 2}}
        assert c.call('stray') == 'yours'
        assert set(c.durations) == {'echo', 'progress', 'stray'}
    assert c.returncode == 0
    assert gone(pid)
    assert any(e.get('msg') == 'input closed' for e in c.log)


def test_error_answer_keeps_kind_detail_hint_and_log():
    with fake('ok') as c:
        with pytest.raises(RpcError) as ei:
            c.call('fail', {})
        e = ei.value
        assert (e.code, e.kind, e.message, e.detail, e.hint) == (-32033, 'PLAN_STALE', 'the plan is stale', 'the target changed', 'build it again')
        assert e.as_dict()['kind'] == 'PLAN_STALE'
        assert isinstance(e.log, list)
        # the session goes on after an error answer
        assert c.call('echo', 1) == 1
    # the child's log, complete once it is reaped, has every request in it
    assert [x.get('method') for x in c.log if x.get('msg') == 'request'] == ['fail', 'echo']


def test_password_in_environment_never_in_argv():
    secret = 'pw-in-env-%d' % os.getpid()
    env = dict(os.environ, PGPASSWORD=secret)
    with fake('ok', env=env) as c:
        r = c.call('env')
        assert r['pgpassword'] == secret
        assert secret not in ' '.join(r['argv'])
        with open('/proc/%d/cmdline' % r['pid'], 'rb') as f:
            assert secret.encode() not in f.read()
        assert r['cwd'] == '/'


def test_child_that_dies():
    c = fake('die').start()
    pid = c.proc.pid
    with pytest.raises(RpcChildExited) as ei:
        c.call('echo', 1)
    assert 'exit code 3' in ei.value.message
    assert 'boom' in ei.value.message
    assert ei.value.returncode == 3
    assert gone(pid)
    assert c.close() == 3


def test_child_that_exits_before_the_request():
    c = fake('exit-now').start()
    time.sleep(0.5)
    with pytest.raises(RpcChildExited) as ei:
        c.call('echo', 1)
    assert ei.value.returncode == 7
    c.close()


def test_child_that_prints_garbage():
    c = fake('garbage').start()
    pid = c.proc.pid
    with pytest.raises(RpcProtocolError) as ei:
        c.call('echo', 1)
    assert 'this is not json' in ei.value.message
    assert c.returncode is not None and c.returncode < 0, 'the child was killed'
    assert gone(pid)
    c.close()


def test_parse_error_answer():
    with fake('parse-error') as c:
        with pytest.raises(RpcError) as ei:
            c.call('echo', 1)
        assert ei.value.kind == 'PARSE_ERROR'
        assert ei.value.code == -32700


def test_timeout_cancels_the_request():
    c = fake('ok', timeout=1.0).start()
    pid = c.proc.pid
    t0 = time.time()
    with pytest.raises(RpcTimeout):
        c.call('hang', {})
    took = time.time() - t0
    assert 0.9 < took < 8, took
    assert any(e.get('msg') == 'cancelled' for e in c.log), 'the server got $/cancelRequest'
    assert c.returncode == 0, 'it exited by itself once cancelled and its stdin closed'
    assert gone(pid)
    c.close()


def test_timeout_kills_a_child_that_ignores_cancellation():
    c = fake('ignore', timeout=0.5, cancel_grace=0.5).start()
    pid = c.proc.pid
    t0 = time.time()
    with pytest.raises(RpcTimeout):
        c.call('echo', 1)
    assert time.time() - t0 < 8
    assert c.returncode == -9
    assert gone(pid)
    c.close()


def test_close_kills_a_child_that_does_not_exit():
    c = fake('ignore', close_grace=0.5).start()
    pid = c.proc.pid
    t0 = time.time()
    assert c.close() == -9
    assert time.time() - t0 < 5
    assert gone(pid)


def test_per_call_timeout():
    with fake('ok', timeout=60) as c:
        t0 = time.time()
        with pytest.raises(RpcTimeout):
            c.call('hang', {}, timeout=0.3)
        assert time.time() - t0 < 8


def test_binary_that_does_not_exist():
    with pytest.raises(RpcSpawnError) as ei:
        RpcClient(['/nonexistent/pgrewind', 'rpc']).start()
    assert '/nonexistent/pgrewind' in ei.value.message
