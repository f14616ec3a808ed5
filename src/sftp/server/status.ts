// Maps failures to SFTP status codes the way OpenSSH's sftp-server does (errno_to_portable),
// with messages that never carry a host path (Node's error messages do, so they are not used).
import { FX } from '../protocol/constants.js';
import { PacketError } from '../protocol/packet-reader.js';

/**
 * A failure that already knows its SFTP status (bad handle, unsupported, EOF, ...): an answer to
 * the client, never logged, so it carries no stack trace. Capturing one was most of its cost
 * (about 11 µs of 15 per throw from an async handler), paid for the READ that ends every file
 * and for every request a client sends with a bad handle.
 */
export class SftpStatusError extends Error {
  override name = 'SftpStatusError';
  readonly code: number;
  constructor(code: number, message?: string) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      super(message ?? '');
    } finally {
      Error.stackTraceLimit = limit;
    }
    this.code = code;
  }
}

const CODE_BY_ERRNO: Record<string, number> = {
  ENOENT: FX.NO_SUCH_FILE,
  ENOTDIR: FX.NO_SUCH_FILE,
  EBADF: FX.NO_SUCH_FILE,
  ELOOP: FX.NO_SUCH_FILE,
  EPERM: FX.PERMISSION_DENIED,
  EACCES: FX.PERMISSION_DENIED,
  EFAULT: FX.PERMISSION_DENIED,
  // Refused by the jail (src/local/jail-resolve.ts).
  EJAIL: FX.PERMISSION_DENIED,
  ENAMETOOLONG: FX.BAD_MESSAGE,
  EINVAL: FX.BAD_MESSAGE,
  ENOSYS: FX.OP_UNSUPPORTED,
  ENOTSUP: FX.OP_UNSUPPORTED,
  EOPNOTSUPP: FX.OP_UNSUPPORTED,
};

/** Text for errnos whose status code alone would not say why (the limits of a path walk). */
const MAPPED_TEXT: Record<string, string> = {
  ELOOP: 'Too many levels of symbolic links',
  ENAMETOOLONG: 'File name too long',
};

/** strerror-style text for FAILURE statuses, so clients see why (and no paths). */
const FAILURE_TEXT: Record<string, string> = {
  EEXIST: 'File exists',
  ENOTEMPTY: 'Directory not empty',
  EISDIR: 'Is a directory',
  ENOSPC: 'No space left on device',
  EDQUOT: 'Disk quota exceeded',
  EXDEV: 'Invalid cross-device link',
  EROFS: 'Read-only file system',
  EBUSY: 'Device or resource busy',
  EMLINK: 'Too many links',
  EFBIG: 'File too large',
  EMFILE: 'Too many open files',
  ENFILE: 'Too many open files in system',
  EIO: 'Input/output error',
  ETXTBSY: 'Text file busy',
  ECANCELED: 'Operation canceled',
  EAGAIN: 'Resource temporarily unavailable',
};

export interface StatusOf {
  code: number;
  message?: string;
}

export function statusOf(err: unknown): StatusOf {
  if (err instanceof SftpStatusError) return { code: err.code, message: err.message || undefined };
  if (err instanceof PacketError) return { code: FX.BAD_MESSAGE };
  const errno = (err as NodeJS.ErrnoException | null)?.code;
  if (typeof errno === 'string') {
    const code = CODE_BY_ERRNO[errno];
    if (code !== undefined) return MAPPED_TEXT[errno] ? { code, message: MAPPED_TEXT[errno] } : { code };
    return { code: FX.FAILURE, message: FAILURE_TEXT[errno] };
  }
  return { code: FX.FAILURE };
}

/** An error with a Node-style errno code, for failures we detect ourselves. */
export function errnoError(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}
