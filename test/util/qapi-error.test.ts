// QapiError, the one error for a command QMP or qemu-guest-agent refused:
// the class callers branch on (CommandNotFound disables a poll for good)
// must come through whatever the peer sent, and a peer's description must
// not grow the message past the bound its reader sets.
import { describe, expect, it } from 'vitest';
import { QapiError } from '../../src/util/qapi-error.js';

describe('QapiError', () => {
  it('keeps the command and the class callers branch on, in one message', () => {
    const e = QapiError.fromReply('query-balloon', { class: 'DeviceNotActive', desc: 'No balloon device has been activated' });
    expect(e).toBeInstanceOf(Error);
    expect({ command: e.command, errorClass: e.errorClass, desc: e.desc, message: e.message, name: e.name }).toEqual({
      command: 'query-balloon',
      errorClass: 'DeviceNotActive',
      desc: 'No balloon device has been activated',
      message: 'query-balloon: DeviceNotActive: No balloon device has been activated',
      name: 'QapiError',
    });
  });

  it('a reply whose error is not an object, or lacks its members, is a GenericError with no description (never a TypeError)', () => {
    expect([null, 'boom', 7, {}, { desc: 'x' }].map((err) => QapiError.fromReply('guest-info', err).message)).toEqual([
      'guest-info: GenericError: ',
      'guest-info: GenericError: ',
      'guest-info: GenericError: ',
      'guest-info: GenericError: ',
      'guest-info: GenericError: x',
    ]);
  });

  it('cuts a description to maxDesc (a guest can send megabytes in one)', () => {
    expect(QapiError.fromReply('guest-ping', { class: 'GenericError', desc: 'y'.repeat(5000) }, 200).message).toBe(`guest-ping: GenericError: ${'y'.repeat(200)}`);
  });

  // regression for: fromReply cut only desc, so a peer's class of megabytes went whole into the message (and
  // from there into a qga poll's null row, which the byte budget does not charge); qga-session cut it itself.
  it('cuts a class past 64 characters, saying how long it was; a class of 64 is kept whole', () => {
    const e = QapiError.fromReply('guest-ping', { class: 'C'.repeat(2 << 20), desc: 'no' }, 200);
    expect(e.errorClass).toBe(`${'C'.repeat(64)}... (2097152 characters)`);
    expect(e.message).toBe(`guest-ping: ${'C'.repeat(64)}... (2097152 characters): no`);
    expect(QapiError.fromReply('guest-ping', { class: 'D'.repeat(64) }).errorClass).toBe('D'.repeat(64));
    expect(QapiError.fromReply('guest-ping', { class: 'CommandNotFound' }).errorClass).toBe('CommandNotFound');
  });
});
