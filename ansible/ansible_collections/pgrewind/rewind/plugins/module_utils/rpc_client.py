# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgrewind contributors
# PostgreSQL License (see https://opensource.org/licenses/PostgreSQL)

"""A JSON-RPC 2.0 client of ``pgrewind rpc`` in a child process.

One JSON message per line (NDJSON) on the child's stdin and stdout; its stderr
carries JSON log lines, kept (the last ones) for error messages. Every request
has an id and a deadline: when the deadline passes the request is cancelled
(``$/cancelRequest``) and, if the child does not answer within a grace period,
the child is killed. ``close()`` always reaps the child.

Only the standard library is used, so that the module can be tested without
Ansible; the module passes secrets through ``env`` (never ``argv``).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import json
import os
import select
import subprocess
import threading
import time

try:
    _monotonic = time.monotonic
except AttributeError:  # pragma: no cover (Python 2)
    _monotonic = time.time

CANCEL_REQUEST = '$/cancelRequest'
PROGRESS = '$/progress'


class RpcClientError(Exception):
    """The conversation with the child failed: it could not be started, died,
    wrote something that is not JSON-RPC, or did not answer in time."""

    kind = 'RPC_CLIENT'

    def __init__(self, message, log=None, returncode=None):
        super(RpcClientError, self).__init__(message)
        self.message = message
        self.log = list(log or [])
        self.returncode = returncode


class RpcSpawnError(RpcClientError):
    kind = 'RPC_SPAWN'


class RpcChildExited(RpcClientError):
    kind = 'RPC_CHILD_EXITED'


class RpcProtocolError(RpcClientError):
    kind = 'RPC_PROTOCOL'


class RpcTimeout(RpcClientError):
    kind = 'RPC_TIMEOUT'


class RpcError(Exception):
    """An error answer of the server: ``code``, ``message`` and ``data``
    (``kind``, ``detail``, ``hint``, ...)."""

    def __init__(self, method, error, log=None):
        error = error if isinstance(error, dict) else {'message': str(error)}
        self.method = method
        self.code = error.get('code')
        self.message = error.get('message') or 'unknown error'
        data = error.get('data')
        self.data = data if isinstance(data, dict) else {}
        self.kind = self.data.get('kind') or 'UNKNOWN'
        self.detail = self.data.get('detail')
        self.hint = self.data.get('hint')
        self.log = list(log or [])
        super(RpcError, self).__init__('%s: %s' % (self.kind, self.message))

    def as_dict(self):
        out = dict(code=self.code, kind=self.kind, message=self.message, method=self.method)
        if self.detail is not None:
            out['detail'] = self.detail
        if self.hint is not None:
            out['hint'] = self.hint
        extra = dict((k, v) for k, v in self.data.items() if k not in ('kind', 'detail', 'hint'))
        if extra:
            out['data'] = extra
        return out


class RpcClient(object):
    """A session with one ``pgrewind rpc`` child.

    ``timeout`` (seconds, or None) bounds the whole session: every call gets
    what is left of it. Use as a context manager, or call ``start()`` and,
    always, ``close()``.
    """

    def __init__(self, argv, env=None, cwd='/', timeout=None, cancel_grace=10.0,
                 close_grace=30.0, max_log_lines=200):
        self.argv = list(argv)
        self.env = env
        self.cwd = cwd
        self.timeout = timeout
        self.cancel_grace = cancel_grace
        self.close_grace = close_grace
        self.proc = None
        self.returncode = None
        self.log = collections.deque(maxlen=max_log_lines)
        self.progress = {}
        self.durations = collections.OrderedDict()
        self._deadline = None
        self._buf = b''
        self._next_id = 1
        self._lock = threading.Lock()
        self._stderr_thread = None

    # -- life cycle -------------------------------------------------------

    def start(self):
        if self.timeout is not None:
            self._deadline = _monotonic() + self.timeout
        try:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, env=self.env, cwd=self.cwd,
                                         close_fds=True)
        except (OSError, ValueError) as e:
            raise RpcSpawnError('could not start %s: %s' % (self.argv[0], e))
        self._stderr_thread = threading.Thread(target=self._read_stderr)
        self._stderr_thread.daemon = True
        self._stderr_thread.start()
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        """Close the child's stdin (it answers what is in flight and exits),
        wait for it, kill it after ``close_grace`` seconds; always reaps it."""
        if self.proc is None:
            return self.returncode
        try:
            self.proc.stdin.close()
        except (IOError, OSError, ValueError):
            pass
        self._wait_or_kill(self.close_grace)
        return self.returncode

    def kill(self):
        """Kill the child now and reap it."""
        if self.proc is None:
            return self.returncode
        self._wait_or_kill(0)
        return self.returncode

    def _wait_or_kill(self, grace):
        proc = self.proc
        end = _monotonic() + grace
        while proc.poll() is None and _monotonic() < end:
            time.sleep(0.02)
        if proc.poll() is None:
            try:
                proc.kill()
            except OSError:
                pass
            proc.wait()
        self.returncode = proc.returncode
        for stream in (proc.stdin, proc.stdout):
            try:
                stream.close()
            except (IOError, OSError, ValueError):
                pass
        if self._stderr_thread is not None:
            self._stderr_thread.join(5)
        try:
            proc.stderr.close()
        except (IOError, OSError, ValueError):
            pass

    def _read_stderr(self):
        stream = self.proc.stderr
        try:
            for raw in iter(stream.readline, b''):
                line = raw.decode('utf-8', 'replace').rstrip('\r\n')
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                except ValueError:
                    entry = None
                if not isinstance(entry, dict):
                    entry = {'msg': line}
                with self._lock:
                    self.log.append(entry)
        except (IOError, OSError, ValueError):
            pass

    def log_tail(self, n=20):
        with self._lock:
            return list(self.log)[-n:]

    def log_messages(self, n=20, levels=None):
        """The last ``n`` log lines as text (``level: msg``)."""
        out = []
        for e in self.log_tail(len(self.log)):
            level = e.get('level')
            if levels is not None and level not in levels:
                continue
            msg = e.get('msg')
            out.append('%s: %s' % (level, msg) if level else '%s' % (msg,))
        return out[-n:]

    # -- requests ---------------------------------------------------------

    def call(self, method, params=None, timeout=None):
        """Send one request and wait for its answer: the result, or an
        ``RpcError`` for an error answer, or an ``RpcClientError``."""
        if self.proc is None:
            self.start()
        req_id = self._next_id
        self._next_id += 1
        msg = {'jsonrpc': '2.0', 'id': req_id, 'method': method}
        if params is not None:
            msg['params'] = params
        deadline = self._deadline
        if timeout is not None:
            mine = _monotonic() + timeout
            deadline = mine if deadline is None else min(deadline, mine)
        started = _monotonic()
        self._send(msg, 'sending %s' % method)
        try:
            answer = self._wait_for(req_id, deadline, method)
        except RpcTimeout:
            self._cancel(req_id, method)
            raise
        finally:
            self.durations[method] = round(self.durations.get(method, 0) + _monotonic() - started, 3)
        if 'error' in answer:
            self._settle_log()
            raise RpcError(method, answer['error'], self.log_messages())
        return answer.get('result')

    def _settle_log(self, quiet=0.05, limit=0.5):
        """Give the stderr reader a moment to catch up with what the child logged
        before an error answer (stdout and stderr are separate pipes)."""
        end = _monotonic() + limit
        seen = len(self.log)
        calm_since = _monotonic()
        while _monotonic() < end:
            time.sleep(0.01)
            n = len(self.log)
            if n != seen:
                seen, calm_since = n, _monotonic()
            elif _monotonic() - calm_since >= quiet:
                break

    def notify(self, method, params=None):
        msg = {'jsonrpc': '2.0', 'method': method}
        if params is not None:
            msg['params'] = params
        self._send(msg, 'sending %s' % method)

    def _send(self, msg, what):
        data = (json.dumps(msg, separators=(',', ':')) + '\n').encode('utf-8')
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except (IOError, OSError, ValueError):
            self._wait_or_kill(2)
            raise RpcChildExited('pgrewind rpc exited (%s) before %s%s'
                                 % (self._status(), what, self._log_suffix()),
                                 self.log_messages(), self.returncode)

    def _status(self):
        rc = self.returncode
        if rc is None:
            return 'still running'
        if rc < 0:
            return 'killed by signal %d' % -rc
        return 'exit code %d' % rc

    def _log_suffix(self):
        msgs = self.log_messages(5)
        return (': ' + ' | '.join(msgs)) if msgs else ''

    def _wait_for(self, req_id, deadline, method):
        while True:
            msg = self._read_message(deadline, method)
            if 'method' in msg and 'id' not in msg:
                self._notification(msg)
                continue
            if msg.get('id') == req_id:
                return msg
            if msg.get('id') is None and 'error' in msg:
                # the server could not even read the request (parse error, line too long)
                self._settle_log()
                raise RpcError(method, msg['error'], self.log_messages())
            # an answer to an earlier, abandoned request: not ours

    def _notification(self, msg):
        if msg.get('method') == PROGRESS and isinstance(msg.get('params'), dict):
            p = msg['params']
            phase = p.get('phase')
            if phase is not None:
                self.progress[phase] = dict(done=p.get('done'), total=p.get('total'))

    def _read_message(self, deadline, method):
        fd = self.proc.stdout.fileno()
        while True:
            nl = self._buf.find(b'\n')
            if nl >= 0:
                line = self._buf[:nl]
                self._buf = self._buf[nl + 1:]
                if not line.strip():
                    continue
                return self._parse(line)
            wait = None
            if deadline is not None:
                wait = deadline - _monotonic()
                if wait <= 0:
                    raise RpcTimeout('pgrewind rpc did not answer %s in time' % method,
                                     self.log_messages(), None)
            ready, _, _ = select.select([fd], [], [], wait)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                self._wait_or_kill(5)
                raise RpcChildExited('pgrewind rpc exited (%s) before answering %s%s'
                                     % (self._status(), method, self._log_suffix()),
                                     self.log_messages(), self.returncode)
            self._buf += chunk

    def _parse(self, line):
        try:
            msg = json.loads(line.decode('utf-8'))
        except (ValueError, UnicodeDecodeError):
            msg = None
        if not isinstance(msg, dict) or msg.get('jsonrpc') != '2.0':
            shown = line[:200].decode('utf-8', 'replace')
            self._wait_or_kill(0)
            raise RpcProtocolError('pgrewind rpc wrote something that is not a JSON-RPC 2.0 message on stdout: %r' % shown,
                                   self.log_messages(), self.returncode)
        return msg

    def _cancel(self, req_id, method):
        """Ask the server to stop the request at its next safe point; kill the
        child when it does not answer within the grace period."""
        try:
            self.notify(CANCEL_REQUEST, {'id': req_id})
            self._wait_for(req_id, _monotonic() + self.cancel_grace, method)
        except (RpcClientError, RpcError):
            pass
        try:
            self.proc.stdin.close()
        except (IOError, OSError, ValueError):
            pass
        self._wait_or_kill(2)
