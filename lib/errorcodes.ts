import type { PgRewindError } from './errors'

/**
 * The one table of error codes, shared by every adapter: the CLI prints the hint
 * when an error carries none of its own, the JSON-RPC server answers with the
 * code's JSON-RPC error code, and README.md's "Error codes" section is this table
 * (test/rpc-schemas.test.ts compares them). ErrorCode is the set of its keys: a new
 * code is one new row.
 *
 * JSON-RPC codes: -32000..-32099 is the range the JSON-RPC 2.0 specification leaves
 * to the implementation; INVALID_PARAMS and INTERNAL use the specification's own
 * -32602 and -32603, CANCELLED the LSP's RequestCancelled (-32800).
 */
export interface ErrorCodeInfo {
  rpc: number
  /** what the error's message says, in general */
  message: string
  /** what to do about it (used when the error has no hint of its own) */
  hint?: string
}

export const ERROR_CODES = {
  USAGE: { rpc: -32000, message: 'invalid command-line arguments or option combination', hint: 'See pgrewind --help.' },
  INVALID_PARAMS: { rpc: -32602, message: 'a step was called without the inputs it needs (e.g. no divergence or plan)', hint: 'Pass the results of the earlier steps under divergence, scan and plan.' },
  INVALID_LSN: { rpc: -32001, message: 'invalid WAL location', hint: 'A WAL location looks like 0/3000060.' },
  CONTROL_FILE_SIZE: { rpc: -32002, message: 'pg_control has the wrong size', hint: 'The data directory is damaged or not a PostgreSQL data directory.' },
  CONTROL_FILE_CRC: { rpc: -32003, message: 'unexpected control file CRC', hint: 'pg_control is damaged; restore the data directory from a backup.' },
  CONTROL_FILE_VERSION: { rpc: -32004, message: 'unsupported pg_control version', hint: 'pgrewind supports PostgreSQL 13 to 18.' },
  UNSUPPORTED_VERSION: { rpc: -32005, message: 'PostgreSQL version not supported', hint: 'pgrewind supports PostgreSQL 13 to 18.' },
  INVALID_SEGMENT_SIZE: { rpc: -32006, message: 'invalid WAL segment size', hint: 'The WAL segment size must be a power of two between 1 MB and 1 GB.' },
  HISTORY_SYNTAX: { rpc: -32007, message: 'syntax error in a timeline history file', hint: 'Compare pg_wal/*.history of the two data directories; a history file may be damaged.' },
  HISTORY_INVALID: { rpc: -32008, message: 'invalid or missing timeline history', hint: 'The timeline history files of the newer timelines must be in pg_wal.' },
  WAL_MISSING: { rpc: -32009, message: 'a WAL segment the rewind needs is missing', hint: 'Put the segment back into the target\'s pg_wal, or use --restore-target-wal (options.restoreTargetWal) to fetch it with restore_command.' },
  WAL_READ: { rpc: -32010, message: 'could not read a WAL file', hint: 'Check the permissions and the file system of the target\'s pg_wal.' },
  WAL_INVALID_PAGE: { rpc: -32011, message: 'invalid WAL page header', hint: 'The target\'s WAL is damaged or from another cluster.' },
  WAL_INVALID_RECORD: { rpc: -32012, message: 'invalid WAL record', hint: 'The target\'s WAL is damaged; the rewind cannot tell which blocks changed.' },
  WAL_CRC: { rpc: -32013, message: 'incorrect WAL record checksum', hint: 'The target\'s WAL is damaged; the rewind cannot tell which blocks changed.' },
  WAL_END: { rpc: -32014, message: 'the WAL ended before the expected position', hint: 'The target\'s WAL is incomplete.' },
  RELPATH: { rpc: -32015, message: 'invalid relation file name or block number', hint: 'The target\'s WAL references an impossible relation block.' },
  DIFFERENT_SYSTEMS: { rpc: -32016, message: 'source and target clusters are from different systems', hint: 'A rewind needs two copies of the same cluster (same system identifier).' },
  INCOMPATIBLE_CLUSTERS: { rpc: -32017, message: 'clusters are not compatible with each other', hint: 'Source and target must be the same PostgreSQL major with the same block and segment sizes.' },
  TARGET_NOT_CLEAN: { rpc: -32019, message: 'target server must be shut down cleanly', hint: 'Start and cleanly stop the target, or let pgrewind run crash recovery (no --no-ensure-shutdown, no dry run).' },
  TARGET_RUNNING: { rpc: -32020, message: 'target server must be shut down cleanly (it is running)', hint: 'Stop the target server before rewinding it.' },
  SOURCE_NOT_CLEAN: { rpc: -32021, message: 'source data directory must be shut down cleanly', hint: 'Cleanly stop the source, or read from it while it runs with a source server (--source-server).' },
  SOURCE_RUNNING: { rpc: -32022, message: 'source data directory must be shut down cleanly (it is running)', hint: 'Stop the source server, or use --source-server to read from it while it runs.' },
  NO_COMMON_ANCESTOR: { rpc: -32023, message: 'could not find common ancestor of the source and target cluster\'s timelines', hint: 'The two clusters never shared a timeline; rebuild the target from a base backup.' },
  CRASH_RECOVERY_FAILED: { rpc: -32024, message: 'postgres single-user mode in target cluster failed', hint: 'Read the detail; start and cleanly stop the target by hand, then run again.' },
  POSTGRES_NOT_FOUND: { rpc: -32025, message: 'program "postgres" of the target\'s version was not found', hint: 'Use --pg-bindir (options.pgBindir) to name the directory of the target cluster\'s PostgreSQL binaries.' },
  RESTORE_COMMAND: { rpc: -32026, message: 'restore_command is not set or failed', hint: 'Check restore_command in the target\'s configuration (or --config-file).' },
  UNRECOGNIZED_SPECIAL_RECORD: { rpc: -32027, message: 'WAL record modifies a relation, but record type is not recognized', hint: 'The target\'s WAL has a record pg_rewind cannot interpret; rebuild the target from a base backup.' },
  FILE_TYPE_MISMATCH: { rpc: -32028, message: 'a file is of different type in source and target', hint: 'Make the path the same type (file, directory or link) on both sides, or remove it from the target.' },
  SOURCE_CHANGED: { rpc: -32029, message: 'the source changed while pgrewind was copying from it', hint: 'Keep a local source stopped during the rewind; run it again.' },
  SOURCE_IO: { rpc: -32030, message: 'could not read from the source', hint: 'Check the source path or connection and its permissions.' },
  TARGET_IO: { rpc: -32031, message: 'could not read or write the target', hint: 'Check the target path, its permissions and free space; pgrewind must run as the data directory\'s owner.' },
  UNSAFE_PATH: { rpc: -32032, message: 'a target path is unsafe (absolute, "..", control characters or through a symbolic link)', hint: 'The source supplied a file name that would write outside the target data directory; nothing was changed for it.' },
  PLAN_STALE: { rpc: -32033, message: 'the target or source changed since the plan (or an earlier step\'s result) was computed', hint: 'Run the earlier steps again and review the new plan.' },
  PLAN_DIGEST: { rpc: -32034, message: 'the plan does not match its digest', hint: 'The plan was modified after it was built; build it again.' },
  CANCELLED: { rpc: -32800, message: 'request cancelled', hint: 'The step stopped at a safe point; the same step (or plan) can be run again.' },
  SOURCE_CONNECTION: { rpc: -32035, message: 'could not connect to the source server', hint: 'Check the connection string, pg_hba.conf and the password (PGPASSWORD or a password file).' },
  SOURCE_PRIVILEGES: { rpc: -32036, message: 'the source server role lacks a privilege the rewind needs', hint: 'Use a superuser, or grant EXECUTE on pg_ls_dir, pg_stat_file, pg_read_binary_file and pg_read_binary_file with offsets.' },
  CONNSTR_INVALID: { rpc: -32038, message: 'invalid connection string', hint: 'See "Connection Strings" in the PostgreSQL documentation (libpq).' },
  SOURCE_IN_RECOVERY: { rpc: -32039, message: 'the source server is in recovery (a standby) where that is not allowed', hint: 'Use the primary as the source, or a standby of a PostgreSQL version that allows it.' },
  SOURCE_SETTINGS: { rpc: -32040, message: 'a setting of the source server prevents the rewind', hint: 'Read the detail; e.g. full_page_writes must be on in the source server.' },
  SOURCE_QUERY: { rpc: -32041, message: 'a query on the source server failed', hint: 'Read the detail; check the source server\'s log.' },
  SOURCE_PROTOCOL: { rpc: -32042, message: 'the source server answered in an unexpected way', hint: 'Read the detail; check that the source is a PostgreSQL 13-18 server.' },
  SOURCE_STATE: { rpc: -32043, message: 'the source server is not in a state the rewind can use', hint: 'Read the detail, fix the source, and run again.' },
  RUN_AS_ROOT: { rpc: -32037, message: 'cannot be executed by "root"', hint: 'Run pgrewind as the PostgreSQL superuser (the data directory\'s owner).' },
  REWIND_INTERRUPTED: { rpc: -32045, message: 'an interrupted rewind left the target half-rewound', hint: 'Run the same rewind again (it rolls the interrupted one back and redoes it), or undo it with pgrewind rollback -D DIR.' },
  APPLY_INCOMPLETE: { rpc: -32046, message: 'the plan has not been applied completely', hint: 'Run applyPlan (pgrewind apply) with this plan first.' },
  ROLLBACK_UNAVAILABLE: { rpc: -32047, message: 'the target cannot be rolled back', hint: 'Read the detail; without a usable journal only a new rewind or a base backup brings the node back.' },
  JOURNAL_INVALID: { rpc: -32048, message: 'the undo journal cannot be read', hint: 'The journal (pgrewind_journal/ in the data directory) is damaged; keep it for inspection and restore the node from a base backup.' },
  PREFLIGHT: { rpc: -32049, message: 'the target is not ready for the rewind (checked before any change)', hint: 'Read the detail: free space, permissions or WAL; nothing was changed.' },
  CLUSTER_SETUP: { rpc: -32044, message: 'a PostgreSQL cluster of the drill or the test harness could not be set up or driven', hint: 'Read the detail (the server\'s log); the embedded PostgreSQL builds come with "npm ci".' },
  CATALOG_INVALID: { rpc: -32050, message: 'a system catalog file could not be decoded', hint: 'Only the names in the report of discarded changes come from the catalog files; the rewind itself does not read them.' },
  PLAN_FILE: { rpc: -32051, message: 'the plan file cannot be used (its path, type or content)', hint: 'Give planFile an absolute path outside the target data directory, its pg_wal and tablespaces, and pass the file buildPlan wrote there with its digest.' },
  INTERNAL: { rpc: -32603, message: 'internal error (a bug)', hint: 'Please report it with the message and the command or request.' }
} as const satisfies Record<string, ErrorCodeInfo>

/** Every error pgrewind reports has one of these codes. */
export type ErrorCode = keyof typeof ERROR_CODES

/**
 * Errors the JSON-RPC layer itself answers with (no PgRewindError behind them);
 * their `data.kind` is the key.
 */
export const PROTOCOL_ERRORS = {
  PARSE_ERROR: { rpc: -32700, message: 'Parse error: the line is not JSON', hint: 'Send one JSON-RPC message per line (UTF-8, no embedded newlines).' },
  INVALID_REQUEST: { rpc: -32600, message: 'Invalid Request: not a JSON-RPC 2.0 request', hint: 'A request is {"jsonrpc":"2.0","id":…,"method":…,"params":{…}}.' },
  REQUEST_TOO_LARGE: { rpc: -32600, message: 'Invalid Request: the line is longer than the server accepts', hint: 'Lines are limited to --max-line-bytes (64 MiB by default).' },
  METHOD_NOT_FOUND: { rpc: -32601, message: 'Method not found', hint: 'rpc.discover lists the methods.' }
} as const satisfies Record<string, ErrorCodeInfo>

export type ProtocolErrorKind = keyof typeof PROTOCOL_ERRORS

export function errorInfo (code: ErrorCode): ErrorCodeInfo {
  return (ERROR_CODES as Record<string, ErrorCodeInfo>)[code] ?? ERROR_CODES.INTERNAL
}

/** The error's own hint, else its code's. */
export function hintFor (e: PgRewindError): string | undefined {
  return e.hint ?? errorInfo(e.code).hint
}

/** README.md's "Error codes" table (kept equal to it by a test). */
export function errorTableMarkdown (): string {
  const cell = (s: string): string => s.replace(/\|/g, '\\|')
  const rows = ['| code | JSON-RPC code | message | hint |', '|---|---|---|---|']
  for (const [code, i] of Object.entries(PROTOCOL_ERRORS)) rows.push(`| \`${code}\` | ${i.rpc} | ${cell(i.message)} | ${cell(i.hint)} |`)
  for (const [code, i] of Object.entries(ERROR_CODES) as Array<[string, ErrorCodeInfo]>) rows.push(`| \`${code}\` | ${i.rpc} | ${cell(i.message)} | ${cell(i.hint ?? '')} |`)
  return rows.join('\n') + '\n'
}
