/**
 * The order of the mutation run's test files: the core's own tests first (fast, and they kill most
 * mutants), then the suites over real servers, the slowest last, so that mutation/jest-environment.cjs
 * skips as much as it can once a test has failed. Jest's own order (slowest first) is the opposite.
 */
const path = require('node:path');

const LAST = ['lifecycle', 'health-routes', 'wire.property', 'last-event-id.property', 'publish', 'faults'];

function rank(file) {
  const name = path.basename(file).replace(/\.test\.ts$/, '');
  if (file.includes(`${path.sep}packages${path.sep}core${path.sep}`)) return name === 'property' ? 1 : 0;
  const late = LAST.indexOf(name);
  return late === -1 ? 2 : 3 + LAST.length - late;
}

class MutationSequencer {
  sort(tests) {
    return [...tests].sort((a, b) => rank(a.path) - rank(b.path) || a.path.localeCompare(b.path));
  }
  shard(tests) {
    return tests;
  }
  cacheResults() {}
  allFailedTests(tests) {
    return tests;
  }
}

module.exports = MutationSequencer;
