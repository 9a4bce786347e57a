#!/usr/bin/env node
'use strict'
/**
 * After tsc: the command's launcher (lib/cli/pgrewind.sh, not TypeScript) put next to
 * the compiled main.js as dist/lib/cli/pgrewind, and both made executable.
 */
const { chmodSync, copyFileSync } = require('node:fs')
const { join } = require('node:path')

const ROOT = join(__dirname, '..')
const CLI = join(ROOT, 'dist', 'lib', 'cli')
copyFileSync(join(ROOT, 'lib', 'cli', 'pgrewind.sh'), join(CLI, 'pgrewind'))
chmodSync(join(CLI, 'pgrewind'), 0o755)
chmodSync(join(CLI, 'main.js'), 0o755)
