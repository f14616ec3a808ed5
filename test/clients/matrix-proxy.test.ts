/** The real-client matrix (see matrix.ts) against proxy mode: redis + OpenSSH sshd + the proxy. */
import { defineMatrix } from './matrix.js';
import { startProxyTarget } from './fixtures/proxy-target.js';

defineMatrix('the proxy (redis + sshd upstream)', () => startProxyTarget(), (t) => t.close());
