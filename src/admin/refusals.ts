// The refusals every store shares, worded once so the three writers say the same thing.
import { refuse } from './admin-error.js';

const show = (name: string): string => JSON.stringify(name);

export const nameTaken = (name: string, location: string): never =>
  refuse(`user ${show(name)} already exists (${location}); change it with \`pysftpproxy users set\` or \`pysftpproxy keys add\``);

export const keyTaken = (fingerprint: string, owner: string): never =>
  refuse(`key ${fingerprint} already belongs to user ${show(owner)}: a key may belong to one user only (a login with it would be ambiguous)`);

export const keyAlreadyHeld = (fingerprint: string, name: string): never =>
  refuse(`user ${show(name)} already has key ${fingerprint}`);

export const noSuchUser = (name: string, where: string): never => refuse(`no user ${show(name)} in ${where}`);

export const changedMeanwhile = (): never =>
  refuse('the users changed while this command ran (another admin at work?): nothing written; run it again');
