import { DEFAULT_CIPHERS, SUPPORTED_CIPHERS } from './ssh-algorithms.js';

// The one table of options. Every other view of configuration (flags, environment, INI keys,
// --help, docker_properties.sh) is derived from it, so adding an option is one entry here.

export type OptionType = 'string' | 'path' | 'port' | 'int' | 'seconds' | 'bool' | 'enum' | 'list';

export interface OptionSpec {
  /** Key in the typed Config object. */
  key: keyof Config;
  type: OptionType;
  /** Default shown in --help; `undefined` means unset. Mode-dependent defaults are applied in load-config. */
  default?: string;
  /** Environment variable (the deployment contract). */
  env: string;
  /** Command-line flag without the leading dashes. */
  flag: string;
  /** Extra names accepted in the INI `[options]` section (the flag name is always accepted). */
  iniAliases?: string[];
  /** The allowed values of an enum, or of each comma-separated item of a list. */
  choices?: readonly string[];
  /** Inclusive bounds for numbers. */
  min?: number;
  max?: number;
  help: string;
}

export type Mode = 'proxy' | 'local';
export type HostKeyPolicy = 'tofu' | 'strict' | 'off';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  mode: Mode;
  listen: string;
  port: number;
  privatekeyPath?: string;
  publickeyPath?: string;
  dataDir: string;
  clientKeyPath?: string;
  clientUser: string;
  home?: string;
  store?: string;
  redisUrl?: string;
  redisHost: string;
  redisPort: number;
  redisDb: number;
  redisPassword?: string;
  redisChannel: string;
  sftpPath: string;
  upstreamHostkeys: HostKeyPolicy;
  knownHosts?: string;
  connectTimeout: number;
  loginGraceTime: number;
  /** Ciphers the SSH server offers, in order; unset: ssh2's default list. */
  ciphers?: string[];
  maxHandles: number;
  maxHandlesPerUser: number;
  workers: number;
  logLevel: LogLevel;
  logPretty: boolean;
  logfile?: string;
  pidfile?: string;
  userid?: string;
  groupid?: string;
}

export const OPTIONS: readonly OptionSpec[] = [
  { key: 'mode', type: 'enum', default: 'proxy', choices: ['proxy', 'local'], env: 'SFTPPROXY_MODE', flag: 'mode',
    help: 'proxy: route each user to the upstream SFTP server Redis names; local: serve each user\'s own folder' },
  { key: 'listen', type: 'string', default: '0.0.0.0', env: 'SFTPPROXY_LISTEN', flag: 'listen',
    help: 'address to listen on' },
  { key: 'port', type: 'port', default: '5022 (local mode: 2200)', min: 0, env: 'SFTPPROXY_PORT', flag: 'port',
    iniAliases: ['sftp_port'], help: 'TCP port to listen on; 0 picks a free one (logged in the "listening" line)' },
  { key: 'privatekeyPath', type: 'path', env: 'SFTPPROXY_PRIVATEKEY_PATH', flag: 'privatekey-path',
    iniAliases: ['sftp_key', 'privatekey_path'],
    help: 'host private key; unset: an ed25519 key generated once in --data-dir' },
  { key: 'publickeyPath', type: 'path', env: 'SFTPPROXY_PUBLICKEY_PATH', flag: 'publickey-path',
    iniAliases: ['publickey_path'], help: 'host public key; checked to match the private key' },
  { key: 'dataDir', type: 'path', default: '~/.local/share/pysftpproxy', env: 'SFTPPROXY_DATA_DIR', flag: 'data-dir',
    iniAliases: ['data_dir'], help: 'where a generated host key is kept' },
  { key: 'clientKeyPath', type: 'path', env: 'SFTPPROXY_CLIENT_KEY_PATH', flag: 'client-key-path',
    iniAliases: ['client_key_path'],
    help: 'private key for upstream logins; unset: ~/.ssh/id_ed25519, then ~/.ssh/id_rsa' },
  { key: 'clientUser', type: 'string', default: 'root', env: 'SFTPPROXY_CLIENT_USER', flag: 'client-user',
    iniAliases: ['client_user'], help: 'upstream login name when the route names none' },
  { key: 'home', type: 'string', env: 'SFTPPROXY_HOME', flag: 'home',
    help: 'upstream start directory when the route names none; unset: the upstream\'s choice' },
  { key: 'store', type: 'string', env: 'SFTPPROXY_STORE', flag: 'store',
    help: 'user store: redis (pysftpproxy schema), redis-solt, or file:PATH; default: redis in proxy mode, redis-solt in local mode' },
  { key: 'redisUrl', type: 'string', env: 'SFTPPROXY_REDIS_URL', flag: 'redis-url', iniAliases: ['redis_url'],
    help: 'redis://[:password@]host:port/db; overrides the separate redis options' },
  { key: 'redisHost', type: 'string', default: '127.0.0.1', env: 'SFTPPROXY_REDIS_HOST', flag: 'redis-host',
    iniAliases: ['redis_host'], help: 'Redis host' },
  { key: 'redisPort', type: 'port', default: '6379', env: 'SFTPPROXY_REDIS_PORT', flag: 'redis-port',
    iniAliases: ['redis_port'], help: 'Redis port' },
  { key: 'redisDb', type: 'int', default: '1', min: 0, max: 1_000_000, env: 'SFTPPROXY_REDIS_DB', flag: 'redis-db',
    iniAliases: ['redis_db', 'redis_dbindex'], help: 'Redis database index' },
  { key: 'redisPassword', type: 'string', env: 'SFTPPROXY_REDIS_PASSWORD', flag: 'redis-password',
    iniAliases: ['redis_password', 'redis_pass'], help: 'Redis password (never logged)' },
  { key: 'redisChannel', type: 'string', default: 'sftp_users', env: 'SFTPPROXY_REDIS_CHANNEL', flag: 'redis-channel',
    iniAliases: ['redis_channel'], help: 'local mode: pub/sub channel announcing changed user ids' },
  { key: 'sftpPath', type: 'path', default: '/opt/solt_sftp/files', env: 'SFTPPROXY_SFTP_PATH', flag: 'sftp-path',
    iniAliases: ['sftp_path'], help: 'local mode: parent of the users\' folders' },
  { key: 'upstreamHostkeys', type: 'enum', default: 'tofu', choices: ['tofu', 'strict', 'off'],
    env: 'SFTPPROXY_UPSTREAM_HOSTKEYS', flag: 'upstream-hostkeys', iniAliases: ['upstream_hostkeys'],
    help: 'upstream host key check: tofu pins the first key seen (in Redis), strict needs --known-hosts or the route\'s hostkey, off checks nothing' },
  { key: 'knownHosts', type: 'path', env: 'SFTPPROXY_KNOWN_HOSTS', flag: 'known-hosts', iniAliases: ['known_hosts'],
    help: 'OpenSSH known_hosts file of trusted upstream host keys' },
  { key: 'connectTimeout', type: 'seconds', default: '10', min: 1, max: 3600, env: 'SFTPPROXY_CONNECT_TIMEOUT',
    flag: 'connect-timeout', iniAliases: ['connect_timeout'], help: 'seconds to connect and log in upstream' },
  { key: 'loginGraceTime', type: 'seconds', default: '30', min: 1, max: 3600, env: 'SFTPPROXY_LOGIN_GRACE_TIME',
    flag: 'login-grace-time', iniAliases: ['login_grace_time'], help: 'seconds a client has to authenticate' },
  { key: 'ciphers', type: 'list', default: DEFAULT_CIPHERS.join(','), choices: SUPPORTED_CIPHERS, env: 'SFTPPROXY_CIPHERS',
    flag: 'ciphers', help: 'ciphers the SSH server offers, comma-separated (the client\'s preference picks among them); ' +
      `supported: ${SUPPORTED_CIPHERS.join(', ')}` },
  { key: 'maxHandles', type: 'int', default: '256', min: 1, max: 65536, env: 'SFTPPROXY_MAX_HANDLES',
    flag: 'max-handles', iniAliases: ['max_handles'], help: 'local mode: open file handles per session' },
  { key: 'maxHandlesPerUser', type: 'int', default: '1024', min: 1, max: 1_000_000, env: 'SFTPPROXY_MAX_HANDLES_PER_USER',
    flag: 'max-handles-per-user', iniAliases: ['max_handles_per_user'],
    help: 'local mode: descriptors one user\'s open handles may hold across all their connections (a directory listing holds two); ' +
      'all users together get three quarters of the process\'s open-files limit' },
  { key: 'workers', type: 'int', default: '1', min: 1, max: 64, env: 'SFTPPROXY_WORKERS', flag: 'workers',
    help: 'processes sharing the port (node:cluster); one event loop tops out near 400-500 MiB/s, so use up to one per core' },
  { key: 'logLevel', type: 'enum', default: 'info', choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    env: 'SFTPPROXY_LOG_LEVEL', flag: 'log-level', iniAliases: ['log_level'], help: 'log level' },
  { key: 'logPretty', type: 'bool', default: 'false (true on a terminal)', env: 'SFTPPROXY_LOG_PRETTY', flag: 'log-pretty',
    iniAliases: ['log_pretty'], help: 'human-readable logs instead of JSON lines' },
  { key: 'logfile', type: 'path', env: 'SFTPPROXY_LOGFILE', flag: 'logfile', help: 'append logs to this file instead of stdout' },
  { key: 'pidfile', type: 'path', env: 'SFTPPROXY_PIDFILE', flag: 'pidfile', help: 'write the process id here' },
  { key: 'userid', type: 'string', env: 'SFTPPROXY_USERID', flag: 'userid',
    help: 'when started as root: user (name or id) to switch to after binding the port' },
  { key: 'groupid', type: 'string', env: 'SFTPPROXY_GROUPID', flag: 'groupid',
    help: 'when started as root: group (name or id) to switch to after binding the port' },
];
