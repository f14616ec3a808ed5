/** The real-client matrix (see matrix.ts) against local mode: solt users in redis, our SFTP server. */
import { defineMatrix } from './matrix.js';
import { startLocalTarget } from './fixtures/local-target.js';

defineMatrix('local mode (solt users in redis, own SFTP server)', () => startLocalTarget(), (t) => t.close());
