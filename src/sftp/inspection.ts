// The hook through which the proxy's filter and our own server submit every SFTP request and
// reply of a session to inspection (policy and audit: src/policy/sftp-inspector.ts), so both
// modes decide and record alike. Packets are given as their body (type byte onwards) or as much
// of it as headBytesFor() asks for.

export type InspectAction =
  | { kind: 'pass' }
  /** Answer the client with this packet (length prefix included); the request goes nowhere. */
  | { kind: 'reply'; packet: Buffer }
  /** Send this request packet (length prefix included) instead of the client's. */
  | { kind: 'replace'; packet: Buffer }
  /** Find out whether `path` exists (without following a final link), then do what `then` says. */
  | { kind: 'probe'; path: Buffer; then: (exists: boolean) => InspectAction };

export interface SftpInspector {
  /** File bytes seen so far: WRITE payloads (up) and DATA replies (down). */
  readonly fileBytes: { up: number; down: number };
  /** `total`: the whole body's length (`head` may be less: a WRITE's data is not looked at). */
  request(head: Buffer, total: number): InspectAction;
  /** A reply on its way to the client (not one to a probe). */
  reply(head: Buffer): void;
  /** The session ended. */
  end(): void;
}

/** Makes the inspector of one SFTP session. */
export type InspectorFactory = () => SftpInspector;
