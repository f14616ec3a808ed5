// Key names of the solt_sftp schema in Redis (see redis-solt-store.ts and solt-folder-claim.ts).
export const SOLT_USERS_KEY = 'solt.sftp.users';
export const SOLT_USER_PREFIX = 'solt.sftp.user.';
export const soltUserKey = (id: string): string => SOLT_USER_PREFIX + id;
export const soltKeysKey = (id: string): string => SOLT_USER_PREFIX + id + '.keys';
