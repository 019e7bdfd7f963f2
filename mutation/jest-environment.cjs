/**
 * The test environment of the mutation run (jest.mutation.config.ts). Jest has no programmatic
 * `bail`, so Stryker runs every test that covers a mutant even after one has failed: with streaming
 * suites that wait on real sockets, that is most of a run's time. Here, once a test fails while
 * Stryker has a mutant active, the tests after it (in this file and the next ones) are skipped: the
 * mutant is killed either way, and Stryker reports the test that killed it. With no mutant active
 * (Stryker's dry run, or jest run by hand), nothing is skipped.
 */
const { TestEnvironment } = require('jest-environment-node');

/** The mutant that made a test fail, held across the test files of one jest run in this process. */
let failedUnder;

class MutationEnvironment extends TestEnvironment {
  async handleTestEvent(event) {
    const active = process.env.__STRYKER_ACTIVE_MUTANT__;
    if (active === undefined) return;
    if (event.name === 'test_fn_failure' || event.name === 'hook_failure') {
      failedUnder = active;
    } else if (event.name === 'test_start' && failedUnder === active) {
      event.test.mode = 'skip';
    }
  }
}

module.exports = MutationEnvironment;
