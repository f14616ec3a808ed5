/**
 * What makes OpenSSH's sftp regression scripts talk to their server through pysftpproxy instead
 * of straight to it, with nothing in the scripts changed:
 *
 *   client (sftp, as the script runs it) → pysftpproxy (proxy mode, SFTP filter on, full
 *   permissions) → an OpenSSH sshd upstream → OpenSSH's sftp-server
 *
 * - Scripts that run `sftp -D $SFTPSERVER` (sftp, sftp-cmds, sftp-badcmds, sftp-batch, sftp-glob,
 *   sftp-perm) get TEST_SSH_SFTPSERVER = proxied-sftp-server.sh: it execs
 *   `ssh -s -p PROXYPORT root@127.0.0.1 sftp` with the proxy's host key pinned, so sftp's server
 *   end is the proxy. The arguments the script gives its server (sftp-perm.sh: -R, -p, -P) are
 *   written to a file the upstream's ForceCommand (upstream-sftp-server.sh) reads, so the
 *   upstream sftp-server enforces the same flags the direct run's does. Direct, sftp-server runs
 *   in the script's working directory (OBJ); upstream-sftp-server.sh starts it there too.
 * - Scripts that ssh themselves (sftp-uri, sftp-chroot: `sftp -F $OBJ/ssh_config ...`) get
 *   TEST_SSH_SSH_CONFOPTS, which test-exec.sh appends to that config: a ProxyCommand that
 *   connects to the proxy whatever host and port the script names, and a KnownHostsCommand that
 *   vouches for the proxy's host key under the suite's HostKeyAlias.
 * - Either way the client logs in as `root` (the suite's $USER) with OBJ/ssh-ed25519, the first
 *   key test-exec.sh makes and offers; we make it before the first run (test-exec.sh keeps a key
 *   it finds) so the proxy can know it.
 * - The upstream runs as root, as the client does, on the same machine and without a chroot:
 *   every absolute path a script names is the same file for the script and for the upstream.
 *   sftp-chroot.sh's check is about a chrooted server, so its proxied run goes to a second
 *   upstream configured as its direct sshd is (ChrootDirectory /var/run, internal-sftp -d /).
 */
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKey, startSshd, type GeneratedKey, type LogLine } from '../harness/index.js';
import { PUBKEY_PREFIX, ProxyStack, type Upstream } from '../proxy/stack.js';
import { prepareObj, REGRESS_DIR, SFTP_SERVER } from './regress-run.js';

/** The suite logs in as $USER, which is root here (the harness's sshd only serves root). */
const USER = 'root';
/** test-exec.sh's ssh_config names the server by this alias in known_hosts. */
const HOST_KEY_ALIAS = 'localhost-with-alias';

/** Which upstream a proxied run goes to, and the flags its sftp-server starts with. */
export interface UpstreamChoice {
  chroot?: boolean;
  /** For the ForceCommand sftp-server, when the script names none itself (sftp-uri: `-d /`). */
  sftpServerArgs?: string[];
}

export class ProxiedRig {
  private upstream!: Upstream;
  private chrootUpstream!: Upstream;
  private clientKey!: GeneratedKey;
  private readonly serverWrapper: string;
  private readonly upstreamWrapper: string;
  private readonly argsFile: string;
  private readonly aliasKnownHosts: string;

  private constructor(readonly stack: ProxyStack, readonly dir: string, readonly obj: string) {
    this.serverWrapper = join(dir, 'proxied-sftp-server.sh');
    this.upstreamWrapper = join(dir, 'upstream-sftp-server.sh');
    this.argsFile = join(dir, 'upstream-sftp-server.args');
    this.aliasKnownHosts = join(dir, 'known_hosts_proxy_alias');
  }

  /** A proxy stack and its upstreams; `obj` is the OBJ directory the proxied runs will use. */
  static async start(dir: string, obj: string): Promise<ProxiedRig> {
    const stack = await ProxyStack.start({
      upstreams: 0,
      // The defaults today, named so that what is compared stays what the issue asks for.
      proxyEnv: { SFTPPROXY_SFTP_FILTER: 'on', SFTPPROXY_PERMISSIONS: '*' },
    });
    const rig = new ProxiedRig(stack, dir, obj);
    try {
      await rig.init();
    } catch (err) {
      await stack.close();
      throw err;
    }
    return rig;
  }

  private async init(): Promise<void> {
    const proxy = this.stack.proxy;
    await prepareObj(this.obj);
    this.clientKey = await generateKey(this.obj, 'ed25519', 'ssh-ed25519');
    await this.stack.db.set(PUBKEY_PREFIX + this.clientKey.blobBase64, USER);
    await writeFile(this.argsFile, '');
    await writeScript(this.upstreamWrapper, [
      '#!/bin/sh',
      '# ForceCommand of the upstream sshd: sftp-server with the flags proxied-sftp-server.sh was given,',
      '# started in OBJ as `sftp -D` starts it in the direct runs.',
      `cd ${sq(this.obj)} || exit 1`,
      `exec ${SFTP_SERVER} $(cat ${sq(this.argsFile)})`,
    ]);
    await writeScript(this.serverWrapper, [
      '#!/bin/sh',
      '# SFTPSERVER of the proxied runs: an sftp subsystem through the proxy instead of a local sftp-server.',
      `printf '%s\\n' "$@" > ${sq(this.argsFile)}`,
      [
        'exec ssh -q -F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes', `-i ${sq(this.clientKey.privatePath)}`,
        `-o UserKnownHostsFile=${sq(proxy.knownHostsPath)} -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes`,
        `-p ${proxy.port} -s ${USER}@127.0.0.1 sftp`,
      ].join(' '),
    ]);
    await writeFile(this.aliasKnownHosts, `${HOST_KEY_ALIAS} ${proxy.hostKeyLine}\n`);

    const authorizedKeys = [this.stack.upstreamKey.publicLine];
    this.upstream = this.track(await startSshd({ authorizedKeys, extraConfig: [`ForceCommand ${this.upstreamWrapper}`] }), this.obj);
    this.chrootUpstream = this.track(
      await startSshd({ authorizedKeys, startDir: '/', extraConfig: ['ChrootDirectory /var/run'] }), '/var/run');
  }

  /** The stack stops its upstreams with the rest. */
  private track(sshd: Upstream['sshd'], dir: string): Upstream {
    const up = { sshd, dir };
    this.stack.upstreams.push(up);
    return up;
  }

  /** test-exec.sh settings that send a script's client through the proxy. */
  get env(): Record<string, string> {
    return {
      TEST_SSH_SFTPSERVER: this.serverWrapper,
      TEST_SSH_SSH_CONFOPTS: [
        `ProxyCommand ${REGRESS_DIR}/netcat 127.0.0.1 ${this.stack.proxy.port}`,
        `KnownHostsCommand /bin/cat ${this.aliasKnownHosts}`,
      ].join('\n'),
    };
  }

  /** Route the suite's user to the upstream `choice` names, whose sftp-server gets its flags. */
  async prepare(choice: UpstreamChoice): Promise<void> {
    const up = choice.chroot ? this.chrootUpstream : this.upstream;
    await this.stack.setRoute(USER, {
      remote: '127.0.0.1', port: String(up.sshd.port), user: USER, hostkey: up.sshd.hostKeyFingerprint,
    });
    await writeFile(this.argsFile, (choice.sftpServerArgs ?? []).map((a) => `${a}\n`).join(''));
  }

  mark(): number {
    return this.stack.proxy.mark();
  }

  logs(since: number): LogLine[] {
    return this.stack.proxy.logs(since);
  }

  close(): Promise<void> {
    return this.stack.close();
  }
}

/** A shell single-quoted word. */
function sq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

async function writeScript(path: string, lines: string[]): Promise<void> {
  await writeFile(path, `${lines.join('\n')}\n`);
  await chmod(path, 0o755);
}
