// The one table of options. The Config type, the defaults, flags, environment names, INI keys,
// --help and docker_properties.sh (checked by a test) all derive from it: a new option is one
// entry here plus its docs.
import { addresses, bool, hostport, int, list, oneOf, path, port, seconds, str, type ConfigOf, type OptionDef } from './option-kinds.js';
import { DEFAULT_CIPHERS, DEFAULT_KEX, SUPPORTED_CIPHERS, SUPPORTED_KEX } from './ssh-algorithms.js';

export type { OptionType } from './option-kinds.js';

const TABLE = {
  mode: oneOf(['proxy', 'local'], { default: 'proxy', env: 'SFTPPROXY_MODE', flag: 'mode',
    help: 'proxy: route each user to the upstream SFTP server Redis names; local: serve each user\'s own folder' }),
  listen: str({ default: '0.0.0.0', env: 'SFTPPROXY_LISTEN', flag: 'listen', help: 'address to listen on' }),
  port: port({ default: (mode) => (mode === 'local' ? 2200 : 5022), defaultText: '5022 (local mode: 2200)', min: 0,
    env: 'SFTPPROXY_PORT', flag: 'port', iniAliases: ['sftp_port'],
    help: 'TCP port to listen on; 0 picks a free one (logged in the "listening" line)' }),
  privatekeyPath: path({ env: 'SFTPPROXY_PRIVATEKEY_PATH', flag: 'privatekey-path', iniAliases: ['sftp_key', 'privatekey_path'],
    help: 'host private key; unset: an ed25519 key generated once in --data-dir' }),
  publickeyPath: path({ env: 'SFTPPROXY_PUBLICKEY_PATH', flag: 'publickey-path', iniAliases: ['publickey_path'],
    help: 'host public key; checked to match the private key' }),
  dataDir: path({ default: '~/.local/share/pysftpproxy', env: 'SFTPPROXY_DATA_DIR', flag: 'data-dir', iniAliases: ['data_dir'],
    help: 'where a generated host key is kept' }),
  clientKeyPath: path({ env: 'SFTPPROXY_CLIENT_KEY_PATH', flag: 'client-key-path', iniAliases: ['client_key_path'],
    help: 'private key for upstream logins; unset: ~/.ssh/id_ed25519, then ~/.ssh/id_rsa' }),
  clientUser: str({ default: 'root', env: 'SFTPPROXY_CLIENT_USER', flag: 'client-user', iniAliases: ['client_user'],
    help: 'upstream login name when the route names none' }),
  home: str({ env: 'SFTPPROXY_HOME', flag: 'home',
    help: 'upstream start directory when the route names none; unset: the upstream\'s choice' }),
  store: str({ default: (mode) => (mode === 'local' ? 'redis-solt' : 'redis'), defaultText: 'redis (local mode: redis-solt)',
    env: 'SFTPPROXY_STORE', flag: 'store',
    help: 'user store: redis (pysftpproxy schema), redis-solt, or file:PATH' }),
  redisUrl: str({ env: 'SFTPPROXY_REDIS_URL', flag: 'redis-url', iniAliases: ['redis_url'],
    help: 'redis://[:password@]host:port/db; overrides the separate redis options' }),
  redisHost: str({ default: '127.0.0.1', env: 'SFTPPROXY_REDIS_HOST', flag: 'redis-host', iniAliases: ['redis_host'], help: 'Redis host' }),
  redisPort: port({ default: 6379, env: 'SFTPPROXY_REDIS_PORT', flag: 'redis-port', iniAliases: ['redis_port'], help: 'Redis port' }),
  redisDb: int({ default: 1, min: 0, max: 1_000_000, env: 'SFTPPROXY_REDIS_DB', flag: 'redis-db',
    iniAliases: ['redis_db', 'redis_dbindex'], help: 'Redis database index' }),
  redisPassword: str({ env: 'SFTPPROXY_REDIS_PASSWORD', flag: 'redis-password', iniAliases: ['redis_password', 'redis_pass'],
    help: 'Redis password (never logged)' }),
  // Two channels because the messages differ: solt's carries user ids, the proxy's user names.
  redisChannel: str({ default: (mode) => (mode === 'local' ? 'sftp_users' : 'pysftpproxy:changes'),
    defaultText: 'pysftpproxy:changes (local mode: sftp_users)', env: 'SFTPPROXY_REDIS_CHANNEL', flag: 'redis-channel', iniAliases: ['redis_channel'],
    help: 'pub/sub channel announcing changed users: user names in proxy mode, solt user ids in local mode' }),
  sftpPath: path({ default: '/opt/solt_sftp/files', env: 'SFTPPROXY_SFTP_PATH', flag: 'sftp-path', iniAliases: ['sftp_path'],
    help: 'local mode: parent of the users\' folders' }),
  upstreamHostkeys: oneOf(['tofu', 'strict', 'off'], { default: 'tofu', env: 'SFTPPROXY_UPSTREAM_HOSTKEYS', flag: 'upstream-hostkeys',
    iniAliases: ['upstream_hostkeys'],
    help: 'upstream host key check: tofu pins the first key seen (in Redis), strict needs --known-hosts or the route\'s hostkey, off checks nothing' }),
  knownHosts: path({ env: 'SFTPPROXY_KNOWN_HOSTS', flag: 'known-hosts', iniAliases: ['known_hosts'],
    help: 'OpenSSH known_hosts file of trusted upstream host keys' }),
  connectTimeout: seconds({ default: 10, min: 1, max: 3600, env: 'SFTPPROXY_CONNECT_TIMEOUT', flag: 'connect-timeout',
    iniAliases: ['connect_timeout'], help: 'seconds to connect and log in upstream' }),
  loginGraceTime: seconds({ default: 30, min: 1, max: 3600, env: 'SFTPPROXY_LOGIN_GRACE_TIME', flag: 'login-grace-time',
    iniAliases: ['login_grace_time'], help: 'seconds a client has to authenticate' }),
  maxAuthTries: int({ default: 6, min: 1, max: 100, env: 'SFTPPROXY_MAX_AUTH_TRIES', flag: 'max-auth-tries', iniAliases: ['max_auth_tries'],
    live: true, help: 'refused authentication attempts (key offers included) after which the connection is closed, as OpenSSH\'s MaxAuthTries' }),
  maxStartups: int({ default: 100, min: 1, max: 100_000, env: 'SFTPPROXY_MAX_STARTUPS', flag: 'max-startups', iniAliases: ['max_startups'],
    live: true, help: 'connections not yet logged in held at once; past it new connections are closed at accept' }),
  maxConnectionsPerIp: int({ default: 0, min: 0, max: 1_000_000, env: 'SFTPPROXY_MAX_CONNECTIONS_PER_IP', flag: 'max-connections-per-ip',
    iniAliases: ['max_connections_per_ip'], live: true, help: 'connections one client address may hold at once; 0 = unlimited' }),
  maxConnections: int({ default: 0, min: 0, max: 10_000_000, env: 'SFTPPROXY_MAX_CONNECTIONS', flag: 'max-connections',
    iniAliases: ['max_connections'], live: true,
    help: 'connections held at once by the whole server (every worker, and every instance sharing Redis); 0 = unlimited' }),
  maxSessionsPerUser: int({ default: 0, min: 0, max: 1_000_000, env: 'SFTPPROXY_MAX_SESSIONS_PER_USER', flag: 'max-sessions-per-user',
    iniAliases: ['max_sessions_per_user'], live: true,
    help: 'logged-in connections one user may hold at once (every worker, and every instance sharing Redis); 0 = unlimited' }),
  idleTimeout: seconds({ default: 900, min: 0, max: 7 * 86400, env: 'SFTPPROXY_IDLE_TIMEOUT', flag: 'idle-timeout', iniAliases: ['idle_timeout'],
    live: true, help: 'seconds without SFTP traffic either way after which a session is closed, and a logged-in connection with no session open; 0 = never' }),
  proxyProtocolFrom: addresses({ default: [], env: 'SFTPPROXY_PROXY_PROTOCOL_FROM', flag: 'proxy-protocol-from', iniAliases: ['proxy_protocol_from'],
    live: true, help: 'load balancers (addresses or CIDR ranges) whose connections start with a PROXY protocol v1/v2 header naming the real client; ' +
      'connections from elsewhere are direct and a header from them is not trusted' }),
  defender: oneOf(['on', 'off'], { default: 'on', env: 'SFTPPROXY_DEFENDER', flag: 'defender', live: true,
    help: 'brute-force defender: addresses that score --defender-threshold within --defender-window are banned for --defender-ban-time' }),
  defenderWindow: seconds({ default: 1800, min: 1, max: 30 * 86400, env: 'SFTPPROXY_DEFENDER_WINDOW', flag: 'defender-window',
    iniAliases: ['defender_window'], live: true, help: 'seconds over which an address\'s score adds up (unknown user or key 2, refused key or bad signature 1, never authenticated 1)' }),
  defenderThreshold: int({ default: 15, min: 1, max: 1_000_000, env: 'SFTPPROXY_DEFENDER_THRESHOLD', flag: 'defender-threshold',
    iniAliases: ['defender_threshold'], live: true, help: 'score at which an address is banned' }),
  defenderBanTime: seconds({ default: 1800, min: 1, max: 365 * 86400, env: 'SFTPPROXY_DEFENDER_BAN_TIME', flag: 'defender-ban-time',
    iniAliases: ['defender_ban_time'], live: true, help: 'seconds a banned address\'s connections are closed at accept' }),
  defenderAllow: addresses({ default: [], env: 'SFTPPROXY_DEFENDER_ALLOW', flag: 'defender-allow', iniAliases: ['defender_allow'], live: true,
    help: 'addresses or CIDR ranges never banned (monitoring, the office)' }),
  permissions: str({ default: '*', env: 'SFTPPROXY_PERMISSIONS', flag: 'permissions', live: true,
    help: 'permissions of users whose entry names none: * (all), read-only, or a list of list,download,upload,overwrite,delete,rename,mkdir,symlink,chmod' }),
  adminListen: hostport({ env: 'SFTPPROXY_ADMIN_LISTEN', flag: 'admin-listen', iniAliases: ['admin_listen'],
    help: 'HOST:PORT of the admin HTTP endpoint (GET /metrics, /healthz, /readyz), e.g. 127.0.0.1:9122; unset: off' }),
  drainTimeout: seconds({ default: 30, min: 0, max: 86400, env: 'SFTPPROXY_DRAIN_TIMEOUT', flag: 'drain-timeout', iniAliases: ['drain_timeout'],
    live: true, help: 'on SIGTERM/SIGINT: seconds live sessions may go on after accepting stopped; then they are closed' }),
  ciphers: list({ default: [...DEFAULT_CIPHERS], choices: SUPPORTED_CIPHERS, env: 'SFTPPROXY_CIPHERS', flag: 'ciphers',
    help: `ciphers the SSH server offers, comma-separated (the client's preference picks among them); supported: ${SUPPORTED_CIPHERS.join(', ')}` }),
  kex: list({ default: [...DEFAULT_KEX], choices: SUPPORTED_KEX, env: 'SFTPPROXY_KEX', flag: 'kex',
    help: 'key exchange methods offered, comma-separated; the finite-field (diffie-hellman-*) groups cost 10-100 times the CPU of ' +
      `curve25519 per handshake and are off unless listed; supported: ${SUPPORTED_KEX.join(', ')}` }),
  maxHandles: int({ default: 256, min: 1, max: 65536, env: 'SFTPPROXY_MAX_HANDLES', flag: 'max-handles', iniAliases: ['max_handles'],
    help: 'local mode: open file handles per session' }),
  maxHandlesPerUser: int({ default: 1024, min: 1, max: 1_000_000, env: 'SFTPPROXY_MAX_HANDLES_PER_USER', flag: 'max-handles-per-user',
    iniAliases: ['max_handles_per_user'],
    help: 'local mode: descriptors one user\'s open handles may hold across all their connections (a directory listing holds two); ' +
      'all users together get three quarters of the process\'s open-files limit' }),
  workers: int({ default: 1, min: 1, max: 64, env: 'SFTPPROXY_WORKERS', flag: 'workers',
    help: 'processes sharing the port (node:cluster); one event loop tops out near 400-500 MiB/s, so use up to one per core' }),
  logLevel: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info', env: 'SFTPPROXY_LOG_LEVEL',
    flag: 'log-level', iniAliases: ['log_level'], live: true, help: 'log level' }),
  logPretty: bool({ default: () => Boolean(process.stdout.isTTY), defaultText: 'false (true on a terminal)', env: 'SFTPPROXY_LOG_PRETTY',
    flag: 'log-pretty', iniAliases: ['log_pretty'], help: 'human-readable logs instead of JSON lines' }),
  logfile: path({ env: 'SFTPPROXY_LOGFILE', flag: 'logfile', help: 'append logs to this file instead of stdout' }),
  pidfile: path({ env: 'SFTPPROXY_PIDFILE', flag: 'pidfile', help: 'write the process id here' }),
  userid: str({ env: 'SFTPPROXY_USERID', flag: 'userid', help: 'when started as root: user (name or id) to switch to after binding the port' }),
  groupid: str({ env: 'SFTPPROXY_GROUPID', flag: 'groupid', help: 'when started as root: group (name or id) to switch to after binding the port' }),
} satisfies Record<string, OptionDef<unknown>>;

export type Config = ConfigOf<typeof TABLE>;
export type Mode = Config['mode'];
export type HostKeyPolicy = Config['upstreamHostkeys'];
export type LogLevel = Config['logLevel'];

/** One row of the table with its Config key, for the views that list options. */
export type OptionSpec = OptionDef<unknown> & { key: keyof Config };

export const OPTIONS: readonly OptionSpec[] = Object.entries(TABLE).map(([key, def]) => ({ ...(def as OptionDef<unknown>), key: key as keyof Config }));
