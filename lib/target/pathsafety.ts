import { PgRewindError } from '../errors'

/**
 * Every path the rewind writes, truncates, removes or links comes (directly or
 * not) from the source, which may be hostile or broken (CVE-2026-6475). A path must
 * be relative, '/'-separated, with no empty, '.' or '..' component and no NUL or
 * control character; symlinks may only be created where PostgreSQL has them.
 */

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/

export type PathOp = 'open' | 'removal' | 'truncation' | 'directory creation' | 'directory removal' | 'symlink creation' | 'symlink removal'

function kind (op: PathOp): string {
  return op.startsWith('directory') ? 'directory' : op.startsWith('symlink') ? 'symlink' : 'file'
}

export function unsafePath (path: string, op: PathOp, why: string): PgRewindError {
  return new PgRewindError('UNSAFE_PATH', `target ${kind(op)} path is unsafe for ${op}: "${JSON.stringify(path).slice(1, -1)}"`, {
    detail: why,
    hint: 'The source supplied a file name that would write outside the target data directory; nothing was changed for it.',
    data: { path, op }
  })
}

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
    throw unsafePath(path, 'symlink creation', 'The link target is empty or contains a NUL or control character.')
  }
  if (!target.startsWith('/')) throw unsafePath(path, 'symlink creation', `The link target "${target}" is not an absolute path.`)
  if (target.split('/').some(p => p === '..' || p === '.')) {
    throw unsafePath(path, 'symlink creation', `The link target "${target}" has a "." or ".." component.`)
  }
}
