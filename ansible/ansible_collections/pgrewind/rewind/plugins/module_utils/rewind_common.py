# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgrewind contributors
# PostgreSQL License (see https://opensource.org/licenses/PostgreSQL)

"""What the modules rewind and rewind_info share: options, the RPC session,
the plan store, plan summaries and diffs, and error reporting."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import json
import os
import pwd
import re
import shutil
import tempfile

try:
    from urllib.parse import unquote, urlsplit, parse_qsl
except ImportError:  # pragma: no cover (Python 2)
    from urllib import unquote  # type: ignore
    from urlparse import urlsplit, parse_qsl  # type: ignore

from ansible_collections.pgrewind.rewind.plugins.module_utils.rpc_client import (
    RpcClient, RpcClientError, RpcError)

DIGEST_RE = re.compile(r'^[0-9a-f]{64}$')
PLAN_ACTIONS = ('create', 'copy', 'copy_tail', 'truncate', 'remove')


def common_argument_spec():
    """Options both modules take (documented in the doc fragment pgrewind.rewind.rewind)."""
    return dict(
        target_pgdata=dict(type='path', required=True),
        source_pgdata=dict(type='path'),
        source_server=dict(type='str'),
        source_password=dict(type='str', no_log=True),
        restore_target_wal=dict(type='bool', default=False),
        config_file=dict(type='path'),
        pg_bindir=dict(type='path'),
        pgrewind_bin=dict(type='path', default='pgrewind'),
        timeout=dict(type='int', default=3600),
        plan_dir=dict(type='path'),
        plan_files=dict(type='int', default=20),
    )


COMMON_MUTUALLY_EXCLUSIVE = [('source_pgdata', 'source_server')]
COMMON_REQUIRED_ONE_OF = [('source_pgdata', 'source_server')]


# -- secrets ---------------------------------------------------------------

_KV_PASSWORD = re.compile(r"(?:^|\s)password\s*=\s*('(?:[^'\\]|\\.)*'|[^\s']\S*)")


def connstr_passwords(connstr):
    """Every form a password takes in a libpq connection string (key=value or
    URI): so that the module masks it wherever it might show up."""
    found = []
    if not connstr:
        return found
    if re.match(r'^postgres(?:ql)?://', connstr):
        try:
            parts = urlsplit(connstr)
            if '@' in parts.netloc:
                userinfo = parts.netloc.rsplit('@', 1)[0]
                if ':' in userinfo:
                    raw = userinfo.split(':', 1)[1]
                    found.extend([raw, unquote(raw)])
            for k, v in parse_qsl(parts.query, keep_blank_values=True):
                if k == 'password':
                    found.append(v)
            for m in re.finditer(r'[?&]password=([^&]*)', parts.query):
                found.append(m.group(1))
        except ValueError:
            pass
    else:
        for m in _KV_PASSWORD.finditer(connstr):
            v = m.group(1)
            if v.startswith("'") and v.endswith("'") and len(v) >= 2:
                found.append(v)
                v = re.sub(r'\\(.)', r'\1', v[1:-1])
            found.append(v)
    return [p for p in found if p]


# -- the RPC session -------------------------------------------------------

def resolve_binary(module):
    name = module.params['pgrewind_bin']
    if os.path.sep in name:
        if not (os.path.isfile(name) and os.access(name, os.X_OK)):
            module.fail_json(msg='pgrewind_bin %s is not an executable file' % name)
        return name
    return module.get_bin_path(name, required=True)


def child_env(module):
    """The environment of ``pgrewind rpc``: ours, plus PGPASSWORD when
    source_password is set (never on its command line)."""
    env = dict(os.environ)
    pw = module.params.get('source_password')
    if pw:
        env['PGPASSWORD'] = pw
    return env


def open_session(module):
    for pw in connstr_passwords(module.params.get('source_server')):
        module.no_log_values.add(pw)
    binary = resolve_binary(module)
    timeout = module.params['timeout']
    limited = timeout is not None and timeout > 0
    # a cancelled step stops at its next safe point: give it a tenth of the time, 1 to 10 s
    client = RpcClient([binary, 'rpc'], env=child_env(module), cwd='/',
                       timeout=timeout if limited else None,
                       cancel_grace=min(10.0, max(1.0, timeout / 10.0)) if limited else 10.0)
    try:
        client.start()
    except RpcClientError as e:
        module.fail_json(msg=e.message, rpc_error=dict(kind=e.kind, message=e.message))
    return client


def sides(module):
    """``target`` and ``source`` params of every step."""
    p = module.params
    target = {'pgdata': p['target_pgdata']}
    if p.get('source_server'):
        source = {'connstr': p['source_server']}
    else:
        source = {'pgdata': p['source_pgdata']}
    return target, source


def step_options(module, dry_run=False, extra=None):
    p = module.params
    opts = {}
    if dry_run:
        opts['dryRun'] = True
    if p.get('restore_target_wal'):
        opts['restoreTargetWal'] = True
    if p.get('config_file'):
        opts['configFile'] = p['config_file']
    if p.get('pg_bindir'):
        opts['pgBindir'] = p['pg_bindir']
    for k, v in (extra or {}).items():
        if v is not None:
            opts[k] = v
    return opts


def fail_rpc(module, client, error, result):
    """fail_json for an RPC error answer or a broken conversation, with what
    the child logged last; the partial result is kept."""
    result = dict(result)
    result['changed'] = result.get('changed', False)
    if isinstance(error, RpcError):
        parts = ['pgrewind %s failed: %s (%s)' % (error.method, error.message, error.kind)]
        if error.detail:
            parts.append('detail: %s' % error.detail)
        if error.hint:
            parts.append('hint: %s' % error.hint)
        result['rpc_error'] = error.as_dict()
        result['rpc_log'] = error.log or (client.log_messages() if client else [])
        module.fail_json(msg='; '.join(parts), **result)
    result['rpc_error'] = dict(kind=error.kind, message=error.message)
    if error.returncode is not None:
        result['rpc_error']['returncode'] = error.returncode
    result['rpc_log'] = error.log or (client.log_messages() if client else [])
    module.fail_json(msg=error.message, **result)


# -- the target's state ----------------------------------------------------

def backup_label_from_pg_rewind(pgdata):
    try:
        with open(os.path.join(pgdata, 'backup_label'), 'rb') as f:
            text = f.read(4096).decode('utf-8', 'replace')
    except (IOError, OSError):
        return False
    return 'BACKUP METHOD: pg_rewind' in text


def rewound_pending(target_info, source_info=None):
    """The target was rewound (backup_label and pg_control written) and has not
    been started since: applying anything again would be wrong, and there is
    nothing left to do but start it."""
    if target_info.get('running'):
        return False
    if target_info['control']['state'] != 'in archive recovery':
        return False
    if not target_info['files']['backupLabel'] or not backup_label_from_pg_rewind(target_info['pgdata']):
        return False
    if source_info is not None:
        t, s = target_info['identity'], source_info['identity']
        if t['systemIdentifier'] != s['systemIdentifier'] or t['timeline'] != s['timeline']:
            return False
    return True


# -- the plan store --------------------------------------------------------

def plan_dir(module):
    """plan_dir, or ~/.pgrewind/plans of the user the module runs as (not of
    $HOME, which sudo may leave pointing at the connecting user's home)."""
    if module.params.get('plan_dir'):
        return module.params['plan_dir']
    return os.path.join(pwd.getpwuid(os.geteuid()).pw_dir, '.pgrewind', 'plans')


class PlanStore(object):
    """Plans built by a check-mode run or rewind_info, kept on the managed host
    (one file per plan, named by its digest) until a run with plan_digest
    applies exactly that plan."""

    def __init__(self, directory):
        self.directory = directory

    def path(self, digest):
        return os.path.join(self.directory, '%s.json' % digest)

    def save(self, plan):
        if not os.path.isdir(self.directory):
            os.makedirs(self.directory, 0o700)
        path = self.path(plan['digest'])
        fd, tmp = tempfile.mkstemp(prefix='.plan-', dir=self.directory)
        try:
            with os.fdopen(fd, 'w') as f:
                json.dump(plan, f, separators=(',', ':'), sort_keys=True)
            os.chmod(tmp, 0o600)
            os.rename(tmp, path)
        except Exception:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return path

    def load(self, digest):
        """The stored plan with this digest, or None."""
        if not DIGEST_RE.match(digest or ''):
            return None
        try:
            with open(self.path(digest)) as f:
                plan = json.load(f)
        except (IOError, OSError, ValueError):
            return None
        if not isinstance(plan, dict) or plan.get('digest') != digest:
            return None
        return plan

    def purge(self, pgdata):
        """Forget every stored plan of this target (they are stale once one was applied)."""
        removed = []
        if not os.path.isdir(self.directory):
            return removed
        want = os.path.realpath(pgdata)
        for name in os.listdir(self.directory):
            if not name.endswith('.json'):
                continue
            path = os.path.join(self.directory, name)
            try:
                with open(path) as f:
                    plan = json.load(f)
                if os.path.realpath(plan['target']['pgdata']) == want:
                    os.unlink(path)
                    removed.append(name[:-5])
            except (IOError, OSError, ValueError, KeyError, TypeError):
                continue
        return removed


def canonical_plan_bytes(plan):
    """The text a plan's digest hashes: its canonical JSON without the digest (keys
    sorted, no spaces, UTF-8 as is), as pgrewind's lib/rewind/plandigest.ts writes it."""
    content = dict((k, v) for k, v in plan.items() if k != 'digest')
    text = json.dumps(content, sort_keys=True, separators=(',', ':'), ensure_ascii=False)
    return text if isinstance(text, bytes) else text.encode('utf-8')


@contextlib.contextmanager
def plan_in_file(plan):
    """The plan as applyPlan, writeBackupLabel and verify read it from a file
    (planFile + digest), in a private temporary directory removed afterwards: a
    big plan then goes through the pipe to pgrewind rpc not once per step but not
    at all. pgrewind refuses the file unless its sha256 is the digest."""
    directory = tempfile.mkdtemp(prefix='pgrewind-plan-')
    try:
        path = os.path.join(directory, '%s.json' % plan['digest'])
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, 'wb') as f:
            f.write(canonical_plan_bytes(plan))
        yield dict(planFile=path, digest=plan['digest'])
    finally:
        shutil.rmtree(directory, ignore_errors=True)


# -- plan summaries and diffs -----------------------------------------------

def blocks_in(entry):
    return sum(end - start for start, end in entry.get('blocks') or [])


def _entry_line(entry, block_size):
    action = entry['action']
    line = '%-9s %s' % (action.upper(), entry['path'])
    if entry['type'] != 'file':
        line += ' (%s%s)' % (entry['type'], ' -> %s' % entry['linkTarget'] if entry.get('linkTarget') else '')
    elif action == 'copy':
        line += ' (%d bytes)' % entry.get('sourceSize', 0)
    elif action == 'copy_tail':
        line += ' (%d -> %d bytes)' % (entry.get('targetSize', 0), entry.get('sourceSize', 0))
    elif action == 'truncate':
        line += ' (%d -> %d bytes)' % (entry.get('targetSize', 0), entry.get('sourceSize', 0))
    elif action == 'remove':
        line += ' (%d bytes)' % entry.get('targetSize', 0)
    n = blocks_in(entry)
    if n:
        line += ' + %d changed block%s (%d bytes)' % (n, '' if n == 1 else 's', n * block_size)
    return line


def plan_summary(plan, block_size=8192, files=20):
    """What a reviewer needs of a plan: totals and counts per action, the first
    ``files`` entries; the whole plan stays in the plan store."""
    actions = {}
    for a in PLAN_ACTIONS:
        actions[a] = dict(files=0, bytes=0)
    changed_blocks = dict(files=0, blocks=0, bytes=0)
    for e in plan['entries']:
        a = e['action']
        if a in actions:
            actions[a]['files'] += 1
            if a == 'copy':
                actions[a]['bytes'] += e.get('sourceSize', 0)
            elif a == 'copy_tail':
                actions[a]['bytes'] += e.get('sourceSize', 0) - e.get('targetSize', 0)
            elif a == 'truncate':
                actions[a]['bytes'] += e.get('targetSize', 0) - e.get('sourceSize', 0)
            elif a == 'remove':
                actions[a]['bytes'] += e.get('targetSize', 0) if e['type'] == 'file' else 0
        n = blocks_in(e)
        if n:
            changed_blocks['files'] += 1
            changed_blocks['blocks'] += n
            changed_blocks['bytes'] += n * block_size
    shown = plan['entries'][:max(files, 0)]
    totals = plan['totals']
    return dict(
        digest=plan['digest'],
        created_at=plan['createdAt'],
        rewind_needed=plan['rewindNeeded'],
        target=dict((k, plan['target'][k]) for k in ('pgdata', 'state', 'timeline', 'checkpoint', 'systemIdentifier')),
        source=dict((k, plan['source'][k]) for k in ('kind', 'description', 'state', 'timeline', 'checkpoint', 'systemIdentifier')),
        divergence=dict(lsn=plan['divergence']['lsn'], tli=plan['divergence']['tli'],
                        last_common_checkpoint=plan['divergence']['lastCommonCheckpoint']),
        backup_label=plan['backupLabel'],
        entries=totals['entries'],
        fetch_bytes=totals['fetchBytes'],
        source_bytes=totals['sourceBytes'],
        blocks=totals['blocks'],
        actions=actions,
        changed_blocks=changed_blocks,
        files=[_entry_line(e, block_size) for e in shown],
        files_omitted=len(plan['entries']) - len(shown),
        journal_bytes=totals.get('journalBytes', 0),
        method=plan.get('method'),
        discards=plan.get('discards'),
    )


def discards_lines(discards):
    """The report of what the rewind throws away, in a few lines (the JSON is
    returned whole under plan.discards)."""
    if not discards:
        return []
    tx = discards.get('transactions', {})
    line = 'discards %d committed transactions' % tx.get('committed', 0)
    if tx.get('firstCommit'):
        line += ' (%s ... %s)' % (tx.get('firstCommit'), tx.get('lastCommit'))
    line += ', %d aborted, %d prepared' % (tx.get('aborted', 0), tx.get('prepared', 0))
    lines = [line]
    for r in discards.get('relations', [])[:10]:
        rows = (r.get('rows') or {}).get('committed') or {}
        name = r.get('name') or r.get('unresolved') or '?'
        if r.get('schema'):
            name = '%s.%s' % (r['schema'], name)
        lines.append('  %s: %d rows inserted, %d updated, %d deleted%s%s' % (
            name, rows.get('inserted', 0), rows.get('updated', 0), rows.get('deleted', 0),
            ' (created)' if r.get('created') else '', ' (dropped)' if r.get('dropped') else ''))
    return lines


def plan_has_work(plan):
    return bool(plan['rewindNeeded'] or plan['entries'])


def _human(n):
    for unit in ('bytes', 'kB', 'MB', 'GB', 'TB'):
        if abs(n) < 1024 or unit == 'TB':
            return ('%d %s' % (n, unit)) if unit == 'bytes' else ('%.1f %s' % (n, unit))
        n = n / 1024.0
    return '%d' % n  # pragma: no cover


def plan_diff(target_info, plan, summary):
    """Ansible's diff of a rewind: before, the target as it is; after, what
    the plan makes of it."""
    t = target_info['identity'] if target_info else plan['target']
    pgdata = plan['target']['pgdata']
    before = ['target: %s' % pgdata,
              'state: %s' % t['state'],
              'timeline: %s' % t['timeline'],
              'checkpoint: %s' % t['checkpoint'],
              'system identifier: %s' % t['systemIdentifier']]
    after = ['target: %s' % pgdata]
    if plan['rewindNeeded']:
        bl = plan['backupLabel'] or {}
        after += ['state: in archive recovery (rewound from %s source %s)' % (plan['source']['kind'], plan['source']['description']),
                  'timeline: %s' % plan['source']['timeline'],
                  'checkpoint: %s (recovery starts at %s on timeline %s)' % (bl.get('checkpoint'), bl.get('redo'), bl.get('tli')),
                  'system identifier: %s' % t['systemIdentifier'],
                  'diverged at %s on timeline %s; last common checkpoint %s'
                  % (plan['divergence']['lsn'], plan['divergence']['tli'], plan['divergence']['lastCommonCheckpoint'])]
    else:
        after += ['state: %s (no rewind required)' % t['state'],
                  'timeline: %s' % t['timeline'],
                  'checkpoint: %s' % t['checkpoint'],
                  'system identifier: %s' % t['systemIdentifier']]
    after.append('fetch: %s (%d bytes) of %s on the source; %d entries'
                 % (_human(summary['fetch_bytes']), summary['fetch_bytes'], _human(summary['source_bytes']), summary['entries']))
    for a in PLAN_ACTIONS:
        s = summary['actions'][a]
        if s['files']:
            after.append('  %s: %d %s, %d bytes' % (a, s['files'], 'entry' if s['files'] == 1 else 'entries', s['bytes']))
    cb = summary['changed_blocks']
    if cb['blocks']:
        after.append('  changed blocks: %d in %d files, %d bytes' % (cb['blocks'], cb['files'], cb['bytes']))
    method = plan.get('method') or {}
    if method.get('kind') == 'compare':
        after.append('  changed blocks found by comparing with the source: %s' % method.get('why'))
    elif method.get('kind') == 'wal+hints':
        after.append('  changed blocks found from the WAL and the hint rule (%d blocks more): %s' % (method.get('extraBlocks') or 0, method.get('why')))
    after += discards_lines(plan.get('discards'))
    if summary['files']:
        after.append('files (first %d of %d):' % (len(summary['files']), summary['entries']))
        after += ['  ' + line for line in summary['files']]
    after.append('plan digest: %s' % plan['digest'])
    return dict(before='\n'.join(before) + '\n', after='\n'.join(after) + '\n',
                before_header='%s (now)' % pgdata, after_header='%s (plan %s)' % (pgdata, plan['digest'][:12]))
