/**
 * Shared runner for the Python SFTP libraries: test/clients/scripts/sftp_scenario.py (read from the
 * source tree; tsc does not copy it) run with Debian's /usr/bin/python3, request on stdin, one JSON
 * line back.
 */
import { join } from 'node:path';
import { execFileCollect, REPO_ROOT } from '../../harness/index.js';
import { DriverError, describeExec, type DriverRun, type ScenarioResult } from './types.js';

export const PYTHON = '/usr/bin/python3';
export const SCENARIO_SCRIPT = join(REPO_ROOT, 'test', 'clients', 'scripts', 'sftp_scenario.py');

interface ScriptReply {
  ok: boolean;
  version: string;
  listing?: string[];
  error?: string;
  traceback?: string;
}

async function callScript(library: 'paramiko' | 'asyncssh', request: object): Promise<{ reply: ScriptReply; transcript: string }> {
  const args = ['-W', 'ignore', SCENARIO_SCRIPT, library];
  let res;
  try {
    res = await execFileCollect(PYTHON, args, { input: JSON.stringify(request), timeoutMs: 90_000 });
  } catch (err) {
    throw new DriverError(`cannot run ${PYTHON}`, String(err));
  }
  const transcript = describeExec(PYTHON, args, res);
  const line = res.stdout.trim().split('\n').pop() ?? '';
  let reply: ScriptReply;
  try {
    reply = JSON.parse(line) as ScriptReply;
  } catch {
    throw new DriverError(`${library}: no JSON reply (is python3-${library} installed?)`, transcript);
  }
  return { reply, transcript };
}

export async function pythonVersion(library: 'paramiko' | 'asyncssh'): Promise<string> {
  const { reply, transcript } = await callScript(library, { versionOnly: true });
  if (!reply.ok) throw new DriverError(`${library} not usable: ${reply.error}`, transcript);
  return reply.version;
}

export async function pythonScenario(library: 'paramiko' | 'asyncssh', run: DriverRun): Promise<ScenarioResult> {
  const { target, paths } = run;
  const { reply, transcript } = await callScript(library, {
    host: target.host,
    port: target.port,
    user: target.user,
    keyType: run.keyType,
    keyPath: target.keyFor(run.keyType).privatePath,
    knownHostsPath: target.knownHostsPath,
    rsaSigAlg: run.rsaSigAlg ?? '',
    localUpload: paths.localUpload,
    localDownload: paths.localDownload,
    paths,
  });
  if (!reply.ok) throw new DriverError(`${library} scenario failed: ${reply.error}`, `${transcript}\n${reply.traceback ?? ''}`);
  return { listing: (reply.listing ?? []).join('\n'), transcript };
}
