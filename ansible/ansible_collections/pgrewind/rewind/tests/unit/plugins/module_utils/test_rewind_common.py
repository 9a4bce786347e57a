# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgrewind contributors
# PostgreSQL License (see https://opensource.org/licenses/PostgreSQL)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import hashlib
import json
import os
import pwd

from ansible_collections.pgrewind.rewind.plugins.module_utils.rewind_common import (
    PlanStore, canonical_plan_bytes, connstr_passwords, plan_diff, plan_dir, plan_has_work, plan_in_file, plan_summary,
    rewound_pending)

IDENT = dict(systemIdentifier='7000000000000000001', major=18, catalogVersion=1, state='shut down',
             checkpoint='0/5000028', timeline=1, controlDigest='a' * 64)
PLAN = dict(
    planVersion=1, createdAt='2026-01-01T00:00:00Z',
    target=dict(IDENT, pgdata='/data/old'),
    source=dict(IDENT, timeline=2, checkpoint='0/4000028', kind='server', description='host=db2 port=5432'),
    divergence=dict(lsn='0/3000060', tli=1, lastCommonCheckpoint='0/2000060'),
    rewindNeeded=True,
    backupLabel=dict(redo='0/2000028', tli=1, checkpoint='0/2000060'),
    entries=[
        dict(path='base/5/16400', action='copy', type='file', sourceSize=16384),
        dict(path='base/5/16384', action='none', type='file', sourceSize=81920, targetSize=81920, blocks=[[0, 2], [7, 8]]),
        dict(path='base/5/16390', action='copy_tail', type='file', sourceSize=24576, targetSize=8192),
        dict(path='base/5/16391', action='truncate', type='file', sourceSize=8192, targetSize=40960),
        dict(path='base/5/16500', action='remove', type='file', targetSize=8192),
        dict(path='pg_tblspc/16401', action='create', type='symlink', linkTarget='/ts/1'),
    ],
    totals=dict(sourceBytes=100000, fetchBytes=16384 + 16384 + 3 * 8192, blocks=3, entries=6),
    digest='d' * 64)


def test_connstr_passwords():
    assert connstr_passwords("host=x password=s3cr3t user=u") == ['s3cr3t']
    assert set(connstr_passwords("host=x password='a b\\'c' user=u")) == {"'a b\\'c'", "a b'c"}
    assert connstr_passwords('postgresql://u:p%40ss@h:5432/db') == ['p%40ss', 'p@ss']
    assert 'qq' in connstr_passwords('postgres://u@h/db?sslmode=require&password=qq')
    assert connstr_passwords('host=x user=u') == []
    assert connstr_passwords(None) == []


def test_plan_summary_counts_every_action():
    s = plan_summary(PLAN, 8192, files=3)
    assert s['digest'] == 'd' * 64
    assert s['fetch_bytes'] == PLAN['totals']['fetchBytes']
    assert s['actions']['copy'] == dict(files=1, bytes=16384)
    assert s['actions']['copy_tail'] == dict(files=1, bytes=16384)
    assert s['actions']['truncate'] == dict(files=1, bytes=32768)
    assert s['actions']['remove'] == dict(files=1, bytes=8192)
    assert s['actions']['create'] == dict(files=1, bytes=0)
    assert s['changed_blocks'] == dict(files=1, blocks=3, bytes=3 * 8192)
    assert len(s['files']) == 3 and s['files_omitted'] == 3
    assert s['files'][1].startswith('NONE') and '3 changed blocks' in s['files'][1]
    assert plan_has_work(PLAN)


def test_plan_diff_shows_before_and_after():
    s = plan_summary(PLAN, 8192, files=20)
    d = plan_diff({'identity': IDENT}, PLAN, s)
    assert 'timeline: 1' in d['before'] and 'checkpoint: 0/5000028' in d['before']
    assert 'timeline: 2' in d['after']
    assert 'diverged at 0/3000060 on timeline 1' in d['after']
    assert 'COPY      base/5/16400 (16384 bytes)' in d['after']
    assert 'CREATE    pg_tblspc/16401 (symlink -> /ts/1)' in d['after']
    assert 'plan digest: ' + 'd' * 64 in d['after']


def test_in_sync_plan_has_no_work():
    p = copy.deepcopy(PLAN)
    p.update(rewindNeeded=False, entries=[], backupLabel=None)
    assert not plan_has_work(p)
    p['entries'] = [dict(path='pg_wal/00000002.history', action='copy', type='file', sourceSize=42)]
    assert plan_has_work(p)


def test_plan_store(tmp_path):
    store = PlanStore(str(tmp_path / 'plans'))
    path = store.save(PLAN)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert os.stat(str(tmp_path / 'plans')).st_mode & 0o777 == 0o700
    assert store.load('d' * 64) == PLAN
    assert store.load('e' * 64) is None
    assert store.load('../../etc/passwd') is None
    other = copy.deepcopy(PLAN)
    other['digest'] = 'f' * 64
    other['target']['pgdata'] = '/data/other'
    store.save(other)
    # a file whose content does not match its name is not a reviewed plan
    with open(store.path('c' * 64), 'w') as f:
        f.write('{"digest": "%s"}' % ('b' * 64))
    assert store.load('c' * 64) is None
    assert store.purge('/data/old') == ['d' * 64]
    assert store.load('f' * 64) == other


def test_rewound_pending(tmp_path):
    pgdata = str(tmp_path)
    info = dict(pgdata=pgdata, running=False, identity=dict(IDENT, timeline=2, state='in archive recovery'),
                control=dict(state='in archive recovery'), files=dict(backupLabel=True))
    assert not rewound_pending(info), 'no backup_label file'
    with open(os.path.join(pgdata, 'backup_label'), 'w') as f:
        f.write('START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\nBACKUP METHOD: pg_rewind\nBACKUP FROM: standby\n')
    assert rewound_pending(info)
    assert rewound_pending(info, {'identity': dict(IDENT, timeline=2)})
    assert not rewound_pending(info, {'identity': dict(IDENT, timeline=3)}), 'another timeline than the source'
    assert not rewound_pending(dict(info, running=True))
    assert not rewound_pending(dict(info, control=dict(state='shut down')))


class FakeModule(object):
    def __init__(self, **params):
        self.params = params


def test_plan_dir_defaults_to_the_running_users_home(monkeypatch):
    monkeypatch.setenv('HOME', '/nonexistent-home')
    home = pwd.getpwuid(os.geteuid()).pw_dir
    assert plan_dir(FakeModule(plan_dir=None)) == os.path.join(home, '.pgrewind', 'plans')
    assert plan_dir(FakeModule(plan_dir='/srv/plans')) == '/srv/plans'


# planDigest() of lib/rewind/plandigest.ts over this value (node, dist/lib/rewind/plandigest.js):
# the canonical text the module writes must hash to what pgrewind checks
CANONICAL_SAMPLE = json.loads(
    r'{"planVersion":1,"source":{"description":"source data directory \"/srv/pg/n\u00fce\" \u2014 \ud83d\udc18","kind":"local"},'
    r'"entries":[{"path":"extra/tab\there\nnl","action":"copy","type":"file","sourceSize":9007199254740991},'
    r'{"path":"base/1/2","action":"none","type":"file","blocks":[[0,3]]}],"backupLabel":null,"rewindNeeded":true,"digest":"ignored"}')
CANONICAL_SAMPLE_DIGEST = '8b9dbb5c1d90428de4354aff799c2221ab6c917119d16bcf8f49ecfa5f7aaec5'


def test_canonical_plan_bytes_hash_to_pgrewind_digest():
    assert hashlib.sha256(canonical_plan_bytes(CANONICAL_SAMPLE)).hexdigest() == CANONICAL_SAMPLE_DIGEST


def test_plan_in_file_private_and_removed():
    plan = dict(CANONICAL_SAMPLE, digest=CANONICAL_SAMPLE_DIGEST)
    with plan_in_file(plan) as ref:
        path = ref['planFile']
        assert ref['digest'] == CANONICAL_SAMPLE_DIGEST
        assert os.path.isabs(path)
        assert os.stat(path).st_mode & 0o777 == 0o600
        assert os.stat(os.path.dirname(path)).st_mode & 0o777 == 0o700
        with open(path, 'rb') as f:
            assert hashlib.sha256(f.read()).hexdigest() == CANONICAL_SAMPLE_DIGEST
    assert not os.path.exists(os.path.dirname(path))
