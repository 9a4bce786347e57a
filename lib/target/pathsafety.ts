import { PgRewindError } from '../errors'

/**
 * Every path the rewind writes, truncates, removes or links comes (directly or
 * not) from the source, which may be hostile or broken (CVE-2026-6475). A path must
 * be relative, '/'-separated, with no empty, '.' or '..' component and no NUL or
 * control character. A symlink is created only with an absolute target (pg_rewind
 * recreates the source's links: tablespaces, and the postgresql.conf, pg_hba.conf or
 * server.key an operator linked into the data directory), and nothing is ever written
 * through or below one, except PostgreSQL's own: pg_tblspc/<oid> and pg_wal.
 */

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/

export type PathOp = 'open' | 'removal' | 'truncation' | 'directory creation' | 'directory removal' | 'symlink creation' | 'symlink removal'

function kind (op: PathOp): string {
  return op.startsWith('directory') ? 'directory' : op.startsWith('symlink') ? 'symlink' : 'file'
}

export function unsafePath (path: string, op: PathOp, why: string, hint?: string): PgRewindError {
  return new PgRewindError('UNSAFE_PATH', `target ${kind(op)} path is unsafe for ${op}: "${JSON.stringify(path).slice(1, -1)}"`, {
    detail: why,
    hint: hint ?? 'The source supplied a file name that would write outside the target data directory; nothing was changed for it.',
    data: { path, op }
  })
}

const linkHint = (path: string): string =>
  `pgrewind recreates a symbolic link of the source only with an absolute target. Make "${path}" on the source an absolute link, ` +
  'or create the link on the target yourself (a link on both sides is left as it is), then run again.'

export function checkRelativePath (path: string, op: PathOp): void {
  if (typeof path !== 'string' || path.length === 0) throw unsafePath(String(path), op, 'The path is empty.')
  if (CONTROL.test(path)) throw unsafePath(path, op, 'The path contains a NUL or control character.')
  if (path.startsWith('/')) throw unsafePath(path, op, 'The path is absolute.')
  if (path.includes('\\')) throw unsafePath(path, op, 'The path contains a backslash.')
  for (const part of path.split('/')) {
    if (part === '') throw unsafePath(path, op, 'The path has an empty component.')
    if (part === '.' || part === '..') throw unsafePath(path, op, 'The path has a "." or ".." component.')
  }
}

/** Where PostgreSQL itself keeps symlinks: tablespace links and pg_wal. */
export function symlinkAllowedAt (path: string): boolean {
  return /^pg_tblspc\/[0-9]+$/.test(path) || path === 'pg_wal'
}

export function checkLinkTarget (path: string, target: string): void {
  if (typeof target !== 'string' || target.length === 0 || CONTROL.test(target)) {
    throw unsafePath(path, 'symlink creation', `The source's symbolic link "${JSON.stringify(path).slice(1, -1)}" has an empty target, or one with a NUL or control character.`, linkHint(path))
  }
  if (!target.startsWith('/')) throw unsafePath(path, 'symlink creation', `The source's symbolic link "${path}" points to "${target}", a relative path.`, linkHint(path))
  if (target.split('/').some(p => p === '..' || p === '.')) {
    throw unsafePath(path, 'symlink creation', `The source's symbolic link "${path}" points to "${target}", which has a "." or ".." component.`, linkHint(path))
  }
}
