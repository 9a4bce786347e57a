import { PgRewindError } from '../errors'
import { isCleanShutdown } from '../format/controlfile'
import { formatLsn } from '../format/lsn'
import { findCommonAncestor, TimelineHistoryEntry } from '../format/timeline'
import { localReader } from '../datadir/files'
import { findPostgres, runCrashRecovery } from '../pg/postgres'
import { ClusterInfo, clusterIdentity, readClusterInfo, readHistory } from '../rewind/clusterinfo'
import { settleInterrupted } from '../rewind/journaling'
import { checkNotRunning, openSourceChecked } from '../rewind/preconditions'
import { openTargetWal } from '../wal/targetwal'
import { Divergence, FindDivergenceInput, HistoryEntryJson, Ports } from './types'

function historyJson (h: TimelineHistoryEntry[]): HistoryEntryJson[] {
  return h.map(e => ({ tli: e.tli, begin: formatLsn(e.begin), end: formatLsn(e.end) }))
}

/** pg_rewind's sanityChecks, plus the layout fields it takes on trust. */
function sanityChecks (target: ClusterInfo, source: ClusterInfo, sourceIsLocal: boolean): void {
  const t = target.control
  const s = source.control
  if (t.systemIdentifier !== s.systemIdentifier) {
    throw new PgRewindError('DIFFERENT_SYSTEMS', 'source and target clusters are from different systems', {
      data: { targetSystemIdentifier: t.systemIdentifier.toString(), sourceSystemIdentifier: s.systemIdentifier.toString() }
    })
  }
  if (target.version.major !== source.version.major || t.catalogVersionNo !== s.catalogVersionNo || t.pgControlVersion !== s.pgControlVersion) {
    throw new PgRewindError('INCOMPATIBLE_CLUSTERS', 'clusters are not compatible with each other', {
      detail: `The target is PostgreSQL ${target.version.major} (catalog version ${t.catalogVersionNo}), the source PostgreSQL ${source.version.major} (catalog version ${s.catalogVersionNo}).`
    })
  }
  for (const [field, label] of [['blcksz', 'block size'], ['relsegSize', 'relation segment size'], ['xlogBlcksz', 'WAL block size'], ['xlogSegSize', 'WAL segment size']] as const) {
    if (t[field] !== s[field]) {
      throw new PgRewindError('INCOMPATIBLE_CLUSTERS', `source and target clusters have a different ${label}`, {
        detail: `The target has ${t[field]}, the source ${s[field]}.`
      })
    }
  }
  if (!isCleanShutdown(t.state)) {
    throw new PgRewindError('TARGET_NOT_CLEAN', 'target server must be shut down cleanly')
  }
  if (sourceIsLocal && !isCleanShutdown(s.state)) {
    throw new PgRewindError('SOURCE_NOT_CLEAN', 'source data directory must be shut down cleanly')
  }
}

/**
 * Step 1: are the two clusters on diverged timelines, where did they diverge, and
 * from which common checkpoint must the target be rewound?
 */
export async function findDivergence (input: FindDivergenceInput, ports: Ports): Promise<Divergence> {
  const opts = input.options ?? {}
  const pgdata = input.target.pgdata
  checkNotRunning(pgdata, 'target')
  // an interrupted rewind is rolled back before anything is analysed (a dry run refuses)
  settleInterrupted(pgdata, { dryRun: opts.dryRun === true, log: ports.log })
  const readTarget = localReader(pgdata, 'target')
  let target = await readClusterInfo(readTarget, 'target')
  let crashRecovered = false

  // The source first: a source that cannot be used (unreachable, missing privileges,
  // a standby on 13, a running local copy) must be refused before crash recovery
  // changes the target.
  const source = await openSourceChecked(input.source, ports)
  try {
    if (!isCleanShutdown(target.control.state) && opts.noEnsureShutdown !== true) {
      if (opts.dryRun === true) {
        throw new PgRewindError('TARGET_NOT_CLEAN', 'target server must be shut down cleanly', {
          detail: 'The target was not shut down cleanly; a real run would first complete its crash recovery in single-user mode, which a dry run does not do.',
          hint: 'Run without --dry-run, or start and cleanly stop the target first.'
        })
      }
      const postgres = findPostgres(pgdata, target.version.major, opts.pgBindir)
      ports.log.info(`executing "${postgres}" for target server to complete crash recovery`)
      runCrashRecovery(postgres, pgdata, opts.configFile)
      target = await readClusterInfo(readTarget, 'target')
      crashRecovered = true
    }

    const src = await readClusterInfo(p => source.readFile(p), 'source')
    sanityChecks(target, src, source.kind === 'local')
    const segSize = target.control.xlogSegSize
    const base = {
      target: clusterIdentity(target),
      source: clusterIdentity(src),
      segSize,
      crashRecovered,
      // Unlike pg_rewind, which refuses: without data checksums or wal_log_hints a
      // hint bit set after the fork is not in the WAL, so buildPlan finds the changed
      // blocks by comparing them (lib/rewind/blockcompare.ts) instead.
      hintsLogged: target.control.dataChecksumVersion !== 0 || target.control.walLogHints
    }

    if (target.tli === src.tli) {
      ports.log.info('source and target cluster are on the same timeline')
      ports.log.info('no rewind required')
      const h = await readHistory(readTarget, target.tli)
      return {
        ...base,
        rewindNeeded: false,
        sameTimeline: true,
        divergeLsn: formatLsn(0n),
        divergeTli: target.tli,
        targetWalEnd: formatLsn(target.control.checkPoint),
        lastCommonCheckpoint: null,
        keepWal: [],
        targetHistory: historyJson(h),
        sourceHistory: historyJson(h)
      }
    }

    const sourceHistory = await readHistory(p => source.readFile(p), src.tli)
    const targetHistory = await readHistory(readTarget, target.tli)
    for (const [label, h] of [['Source', sourceHistory], ['Target', targetHistory]] as const) {
      ports.log.debug(`${label} timeline history:`)
      for (const e of h) ports.log.debug(`${e.tli}: ${formatLsn(e.begin)} - ${formatLsn(e.end)}`)
    }
    const common = findCommonAncestor(sourceHistory, targetHistory)
    ports.log.info(`servers diverged at WAL location ${formatLsn(common.divergeLsn)} on timeline ${common.tli}`)

    const wal = openTargetWal(pgdata, target, targetHistory, opts)
    try {
      // The target's WAL ends after its last checkpoint record, or at minRecoveryPoint
      // when it was a standby that replayed past its last restartpoint.
      const chkptEnd = wal.reader.readOneRecordEnd(target.control.checkPoint)
      const targetWalEnd = target.control.minRecoveryPoint > chkptEnd ? target.control.minRecoveryPoint : chkptEnd
      const divergence = common.divergeLsn
      const rewindNeeded = divergence !== 0n && targetWalEnd > divergence
      const common2 = { divergeLsn: formatLsn(divergence), divergeTli: common.tli, targetWalEnd: formatLsn(targetWalEnd), targetHistory: historyJson(targetHistory), sourceHistory: historyJson(sourceHistory) }
      if (!rewindNeeded) {
        ports.log.info('no rewind required')
        return { ...base, ...common2, rewindNeeded: false, sameTimeline: false, lastCommonCheckpoint: null, keepWal: [] }
      }
      // Only the segments walked back to the common checkpoint are needed for recovery
      // (pg_rewind's keep-list); the ones read above hold the diverged WAL.
      wal.clearOpened()
      const ckpt = wal.reader.findLastCheckpoint(divergence)
      ports.log.info(`rewinding from last common checkpoint at ${formatLsn(ckpt.lsn)} on timeline ${ckpt.tli}`)
      const keepWal = wal.opened().map(f => `pg_wal/${f}`).sort()
      return {
        ...base,
        ...common2,
        rewindNeeded: true,
        sameTimeline: false,
        lastCommonCheckpoint: { lsn: formatLsn(ckpt.lsn), tli: ckpt.tli, redo: formatLsn(ckpt.redo) },
        keepWal
      }
    } finally {
      wal.close()
    }
  } finally {
    await source.close()
  }
}
