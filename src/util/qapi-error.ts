// A command refused by a QAPI peer. QEMU's QMP and qemu-guest-agent answer
// a failed command alike, {"error": {"class": ..., "desc": ...}}, so the
// QMP client and the guest agent session throw the same error, read the
// same way from whatever the peer put in its reply.

export class QapiError extends Error {
  override name = 'QapiError';

  constructor(
    readonly command: string,
    /** QAPI's error class ("CommandNotFound", "GenericError", ...). */
    readonly errorClass: string,
    /** The peer's description, as cut by the reader. */
    readonly desc: string,
  ) {
    super(`${command}: ${errorClass}: ${desc}`);
  }

  /** From a reply's `error` member: a missing class is GenericError; the description is cut to maxDesc characters. */
  static fromReply(command: string, error: unknown, maxDesc = Infinity): QapiError {
    const e = (typeof error === 'object' && error !== null ? error : {}) as { class?: unknown; desc?: unknown };
    return new QapiError(command, String(e.class ?? 'GenericError'), String(e.desc ?? '').slice(0, maxDesc));
  }
}
