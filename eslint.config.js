'use strict'
// The code's style is standard's (neostandard, with its TypeScript rules).
const neostandard = require('neostandard')

module.exports = [
  ...neostandard({ ts: true, ignores: ['dist/**', 'lib/contract/schemas.ts', 'ansible/**', 'node_modules/**', '.tap/**'] }),
  // `void promise` marks a promise deliberately not awaited
  {
    rules: {
      'no-void': ['error', { allowAsStatement: true }],
      // `let x` read by a teardown registered before x is assigned
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }]
    }
  }
]
