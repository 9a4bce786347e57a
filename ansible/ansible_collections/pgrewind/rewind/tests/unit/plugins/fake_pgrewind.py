# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgrewind contributors
# PostgreSQL License (see https://opensource.org/licenses/PostgreSQL)

"""A stand-in for ``pgrewind rpc`` that misbehaves on request, for the unit tests
of the RPC client: ``python fake_pgrewind.py MODE rpc``."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import signal
import sys
import time


def log(level, msg, **fields):
    entry = dict(time='2026-01-01T00:00:00Z', level=level, msg=msg)
    entry.update(fields)
    sys.stderr.write(json.dumps(entry) + '\n')
    sys.stderr.flush()


def send(msg):
    sys.stdout.write(json.dumps(msg) + '\n')
    sys.stdout.flush()


def answer(req, result):
    send({'jsonrpc': '2.0', 'id': req['id'], 'result': result})


def error(req_id, code, message, kind, **data):
    data['kind'] = kind
    send({'jsonrpc': '2.0', 'id': req_id, 'error': {'code': code, 'message': message, 'data': data}})


def requests():
    for line in iter(sys.stdin.readline, ''):
        if line.strip():
            yield json.loads(line)


def main():
    mode = sys.argv[1]
    log('info', 'fake pgrewind rpc ready', mode=mode)
    if mode == 'exit-now':
        sys.exit(7)
    if mode == 'ignore':
        # reads nothing, answers nothing, does not exit when stdin closes
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(120)
        return
    pending = None
    for req in requests():
        method = req.get('method')
        log('info', 'request', method=method, id=req.get('id'))
        if mode == 'die':
            log('error', 'boom: the server fell over')
            sys.exit(3)
        if mode == 'garbage':
            sys.stdout.write('this is not json\n')
            sys.stdout.flush()
            time.sleep(120)
            return
        if mode == 'parse-error':
            send({'jsonrpc': '2.0', 'id': None, 'error': {'code': -32700, 'message': 'Parse error', 'data': {'kind': 'PARSE_ERROR'}}})
            continue
        if method == '$/cancelRequest':
            if pending is not None and req['params']['id'] == pending['id']:
                log('info', 'cancelled', id=pending['id'])
                error(pending['id'], -32800, 'request cancelled', 'CANCELLED')
                pending = None
            continue
        if method == 'hang':
            pending = req
            continue
        if method == 'echo':
            answer(req, req.get('params'))
        elif method == 'env':
            answer(req, {'pgpassword': os.environ.get('PGPASSWORD'), 'argv': sys.argv, 'pid': os.getpid(), 'cwd': os.getcwd()})
        elif method == 'progress':
            send({'jsonrpc': '2.0', 'method': '$/progress', 'params': {'token': req['id'], 'phase': 'scanWal', 'done': 1, 'total': 2}})
            send({'jsonrpc': '2.0', 'method': '$/progress', 'params': {'token': req['id'], 'phase': 'scanWal', 'done': 2, 'total': 2}})
            answer(req, 'done')
        elif method == 'stray':
            send({'jsonrpc': '2.0', 'id': 999, 'result': 'not yours'})
            send({'jsonrpc': '2.0', 'method': '$/something', 'params': {}})
            answer(req, 'yours')
        elif method == 'fail':
            error(req['id'], -32033, 'the plan is stale', 'PLAN_STALE', detail='the target changed', hint='build it again')
        elif method == 'rpc.discover':
            answer(req, {'openrpc': '1.3.2', 'info': {'title': 'pgrewind', 'version': '0.0.0-fake'}, 'methods': []})
        elif method == 'inspect':
            # an error whose message carries the password: the module must mask it
            error(req['id'], -32031, 'could not read the target: %s' % os.environ.get('PGPASSWORD'), 'TARGET_IO')
        else:
            error(req['id'], -32601, 'Method not found', 'METHOD_NOT_FOUND')
    log('info', 'input closed')


if __name__ == '__main__':
    main()
