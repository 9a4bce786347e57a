#!/usr/bin/env node
'use strict'
/**
 * `npm run package`: dist/pgrewind-linux-x64, one self-contained executable for
 * database hosts that have no Node.js 20 — a Node.js single executable application
 * (https://nodejs.org/api/single-executable-applications.html): this node binary with
 * pgrewind's compiled code bundled by esbuild into one script and injected by
 * postject. The JSON-RPC server's worker thread is a second bundle kept in the
 * executable as an asset (lib/rpc/runner.ts starts it from there); the schemas are
 * code (lib/contract/schemas.ts). Nothing is read from node_modules at run time.
 *
 * Usage: node scripts/package.js [--out FILE]   (after npm run build)
 */
const { spawnSync } = require('node:child_process')
const { chmodSync, copyFileSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } = require('node:fs')
const { tmpdir } = require('node:os')
const { join, resolve } = require('node:path')

const ROOT = join(__dirname, '..')
// the fuse every Node.js build carries, flipped by the injection
const FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'

async function main () {
  const i = process.argv.indexOf('--out')
  const out = resolve(i > 0 ? process.argv[i + 1] : join(ROOT, 'dist', 'pgrewind-linux-x64'))
  const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version
  const work = mkdtempSync(join(tmpdir(), 'pgrewind-package-'))
  try {
    const esbuild = require('esbuild')
    const common = {
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      logLevel: 'warning',
      // optional backends of pg that pgrewind never uses; the native CRC-32C package
      // cannot be embedded (a .node file), so the executable uses the TypeScript CRC
      external: ['pg-native', 'pg-cloudflare', '@node-rs/crc32'],
      define: { PGREWIND_BUNDLED_VERSION: JSON.stringify(version) },
      legalComments: 'inline'
    }
    await esbuild.build({ ...common, entryPoints: [join(ROOT, 'dist', 'lib', 'cli', 'main.js')], outfile: join(work, 'pgrewind.cjs') })
    await esbuild.build({ ...common, entryPoints: [join(ROOT, 'dist', 'lib', 'rpc', 'worker.js')], outfile: join(work, 'worker.cjs') })
    const config = {
      main: join(work, 'pgrewind.cjs'),
      output: join(work, 'sea.blob'),
      disableExperimentalSEAWarning: true,
      useCodeCache: true,
      assets: { 'worker.cjs': join(work, 'worker.cjs') }
    }
    writeFileSync(join(work, 'sea-config.json'), JSON.stringify(config, null, 2))
    const blob = spawnSync(process.execPath, ['--experimental-sea-config', join(work, 'sea-config.json')], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } })
    if (blob.status !== 0) throw new Error(`node --experimental-sea-config failed: ${blob.stderr}${blob.stdout}`)
    const tmpOut = `${out}.tmp`
    copyFileSync(process.execPath, tmpOut)
    chmodSync(tmpOut, 0o755)
    const { inject } = require('postject')
    await inject(tmpOut, 'NODE_SEA_BLOB', readFileSync(join(work, 'sea.blob')), { sentinelFuse: FUSE })
    renameSync(tmpOut, out)
    const mb = (statSync(out).size / 1048576).toFixed(1)
    process.stdout.write(`${out} (${mb} MiB, node ${process.version}, pgrewind ${version})\n`)
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

main().catch(e => {
  process.stderr.write(`package: ${e.stack ?? e}\n`)
  process.exitCode = 1
})
