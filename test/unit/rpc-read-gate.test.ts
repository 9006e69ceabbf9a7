import { ReadGate } from '../../app/rpc/read-gate';

test('a stream held for two reasons is read again only when both have ended', () => {
  const calls: string[] = [];
  const gate = new ReadGate({ pause: () => calls.push('pause'), resume: () => calls.push('resume') });
  gate.hold('answers-unread');
  gate.hold('in-flight-full');
  gate.hold('in-flight-full');
  gate.release('answers-unread');
  expect(calls).toEqual(['pause']);
  expect(gate.isHeld('in-flight-full')).toBe(true);
  gate.release('in-flight-full');
  gate.release('in-flight-full');
  expect(calls).toEqual(['pause', 'resume']);
});
