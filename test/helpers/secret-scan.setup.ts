import { afterAll } from 'vitest';
import { SecretLeakError, unreportedLeaks } from './secret-scan.js';

/**
 * Vitest setup file (every test file): apps built with `buildTestApp` and child gateways that
 * were never closed still get their secret scan, once the file's own hooks are done.
 */
afterAll(async () => {
  const leaks = await unreportedLeaks();
  if (leaks.length > 0) throw new SecretLeakError('this test file', leaks);
});
