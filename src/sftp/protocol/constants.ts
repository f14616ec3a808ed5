// SFTP v3 wire constants (draft-ietf-secsh-filexfer-02) and OpenSSH's PROTOCOL extensions.

export const FXP = {
  INIT: 1,
  VERSION: 2,
  OPEN: 3,
  CLOSE: 4,
  READ: 5,
  WRITE: 6,
  LSTAT: 7,
  FSTAT: 8,
  SETSTAT: 9,
  FSETSTAT: 10,
  OPENDIR: 11,
  READDIR: 12,
  REMOVE: 13,
  MKDIR: 14,
  RMDIR: 15,
  REALPATH: 16,
  STAT: 17,
  RENAME: 18,
  READLINK: 19,
  SYMLINK: 20,
  STATUS: 101,
  HANDLE: 102,
  DATA: 103,
  NAME: 104,
  ATTRS: 105,
  EXTENDED: 200,
  EXTENDED_REPLY: 201,
} as const;

export const FX = {
  OK: 0,
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  BAD_MESSAGE: 5,
  NO_CONNECTION: 6,
  CONNECTION_LOST: 7,
  OP_UNSUPPORTED: 8,
} as const;

/** The default message per status code, worded like OpenSSH's sftp-server. */
export const STATUS_MESSAGES: readonly string[] = [
  'Success',
  'End of file',
  'No such file',
  'Permission denied',
  'Failure',
  'Bad message',
  'No connection',
  'Connection lost',
  'Operation unsupported',
];

/** OPEN pflags. */
export const FXF = {
  READ: 0x01,
  WRITE: 0x02,
  APPEND: 0x04,
  CREAT: 0x08,
  TRUNC: 0x10,
  EXCL: 0x20,
} as const;

/** Attribute presence flags. */
export const ATTR = {
  SIZE: 0x01,
  UIDGID: 0x02,
  PERMISSIONS: 0x04,
  ACMODTIME: 0x08,
  EXTENDED: 0x80000000,
} as const;

export const SFTP_VERSION = 3;

/** statvfs@openssh.com f_flag bits. */
export const STATVFS_FLAG = { RDONLY: 0x1, NOSUID: 0x2 } as const;

/** Extensions advertised in VERSION, in OpenSSH's order, with their versions. */
export const ADVERTISED_EXTENSIONS: ReadonlyArray<readonly [string, string]> = [
  ['posix-rename@openssh.com', '1'],
  ['statvfs@openssh.com', '2'],
  ['fstatvfs@openssh.com', '2'],
  ['hardlink@openssh.com', '1'],
  ['fsync@openssh.com', '1'],
  ['lsetstat@openssh.com', '1'],
  ['limits@openssh.com', '1'],
  ['expand-path@openssh.com', '1'],
  ['copy-data', '1'],
];

/** Default cap on one incoming packet (OpenSSH's SFTP_MAX_MSG_LENGTH). */
export const DEFAULT_MAX_PACKET = 256 * 1024;
export const DEFAULT_MAX_HANDLES = 256;
/** Room left in a packet for headers when sizing READ/WRITE payloads (as OpenSSH does). */
export const PACKET_HEADROOM = 1024;
/** Directory entries per READDIR reply (OpenSSH sends up to 100). */
export const READDIR_BATCH = 100;
