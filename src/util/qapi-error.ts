// A command refused by a QAPI peer. QEMU's QMP and qemu-guest-agent answer
// a failed command alike, {"error": {"class": ..., "desc": ...}}, so the
// QMP client and the guest agent session throw the same error, read the
// same way from whatever the peer put in its reply.

/** Characters of an error's class kept (QAPI's own classes are under 30). */
export const MAX_CLASS_CHARS = 64;

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

  /**
   * From a reply's `error` member: a missing class is GenericError, a class
   * longer than MAX_CLASS_CHARS is cut (saying how long it was), and the
   * description is cut to maxDesc characters. Both are the peer's text, and
   * the message can become a null row's reason, which no byte budget charges.
   */
  static fromReply(command: string, error: unknown, maxDesc = Infinity): QapiError {
    const e = (typeof error === 'object' && error !== null ? error : {}) as { class?: unknown; desc?: unknown };
    const cls = String(e.class ?? 'GenericError');
    const kept = cls.length > MAX_CLASS_CHARS ? `${cls.slice(0, MAX_CLASS_CHARS)}... (${cls.length} characters)` : cls;
    return new QapiError(command, kept, String(e.desc ?? '').slice(0, maxDesc));
  }
}
