// An upstream for the demo's proxy: a private OpenSSH sshd where there is one (the real thing),
// else pysftpproxy's own local mode serving a folder, so the demo needs nothing installed.
import fs from 'node:fs';
import type { DemoUpstream, UpstreamSpec } from './demo-upstream.js';
import { startLocalUpstream } from './local-upstream.js';
import { SSHD, startSshdUpstream } from './sshd-upstream.js';

/** `localOnly`: skip sshd even where it exists (the tests of the fallback). */
export async function startUpstream(spec: UpstreamSpec, localOnly = false): Promise<DemoUpstream> {
  if (!localOnly && fs.existsSync(SSHD)) {
    try {
      return await startSshdUpstream(spec);
    } catch (err) {
      spec.log.warn({ upstream: spec.label, err: (err as Error).message }, 'demo: OpenSSH sshd did not start; using pysftpproxy local mode instead');
    }
  }
  return startLocalUpstream(spec);
}
