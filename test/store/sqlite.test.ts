import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { SqliteTaskStore } from '../../src/store/sqlite-store.js';
import { describeTaskStoreConformance } from './conformance.js';

const dir = mkdtempSync(join(tmpdir(), 'genway-store-conformance-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A second handle is a second connection to the same file (a second gateway process).
describeTaskStoreConformance('sqlite', (space) => new SqliteTaskStore(join(dir, `${space}.db`)));
