/** The client auth file's parser, the role table and the prefix rule (app/api/client-auth.ts). */
import { createHash } from 'node:crypto';
import { clientByCommonName, clientByToken, ClientAuthTable, keyForMessage, parseClientAuth, prefixAllows, roleAllows } from '../../app/api/client-auth';

const hash = (t: string) => createHash('sha256').update(t).digest('hex');

function table(lines: unknown[]): ClientAuthTable {
  const r = parseClientAuth(lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n'), 'clients.jsonl');
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

function error(text: string): string {
  const r = parseClientAuth(text, 'clients.jsonl');
  if (r.ok) throw new Error('parsed a bad file');
  return r.error;
}

describe('parseClientAuth', () => {
  test('reads one client a line, skipping blank lines and # comments', () => {
    const t = table(['# clients', '', { name: 'r', role: 'read-only', tokenSha256: hash('a') }, { name: 'w', role: 'read-write', certificateCommonName: 'web', prefixes: ['users/', 'base64:AAE='] }]);
    expect(t.entries.map((e) => [e.name, e.role])).toEqual([['r', 'read-only'], ['w', 'read-write']]);
    expect(t.entries[1]!.prefixes.map((p) => Buffer.from(p).toString('hex'))).toEqual([Buffer.from('users/').toString('hex'), '0001']);
  });

  test('rejects a line that is not JSON, naming the line', () => {
    expect(error(`${JSON.stringify({ name: 'a', role: 'admin', tokenSha256: hash('a') })}\n{name: b}`)).toMatch(/^clients\.jsonl line 2: not a JSON object/);
  });

  test('rejects an unknown role, naming the line, the field and the value', () => {
    expect(error(JSON.stringify({ name: 'a', role: 'root', tokenSha256: hash('a') }))).toBe('clients.jsonl line 1: role "root" is not one of read-only, read-write, admin');
  });

  test('rejects a token in the clear (tokenSha256 must be 64 hex digits)', () => {
    expect(error(JSON.stringify({ name: 'a', role: 'admin', tokenSha256: 'secret' }))).toMatch(/line 1: tokenSha256 "secret" is not 64 lowercase hex digits/);
  });

  test('rejects an unknown field, such as a plain token', () => {
    expect(error(JSON.stringify({ name: 'a', role: 'admin', token: 'secret' }))).toMatch(/line 1: unknown field "token"/);
  });

  test('rejects a client with neither a token hash nor a certificate name', () => {
    expect(error(JSON.stringify({ name: 'a', role: 'admin' }))).toMatch(/line 1: client a has neither tokenSha256 nor certificateCommonName/);
  });

  test('rejects a name, a token hash or a certificate name given twice', () => {
    const a = { name: 'a', role: 'admin', tokenSha256: hash('a') };
    expect(error([a, { ...a, tokenSha256: hash('b') }].map((l) => JSON.stringify(l)).join('\n'))).toMatch(/line 2: name "a" appears twice/);
    expect(error([a, { ...a, name: 'b' }].map((l) => JSON.stringify(l)).join('\n'))).toMatch(/line 2: tokenSha256 is the same as another client's/);
    const c = { name: 'c', role: 'admin', certificateCommonName: 'x' };
    expect(error([c, { ...c, name: 'd' }].map((l) => JSON.stringify(l)).join('\n'))).toMatch(/line 2: certificateCommonName "x" appears twice/);
  });

  test('rejects empty prefixes, a non-text prefix and bad base64', () => {
    const base = { name: 'a', role: 'admin', tokenSha256: hash('a') };
    expect(error(JSON.stringify({ ...base, prefixes: [] }))).toMatch(/line 1: prefixes is empty/);
    expect(error(JSON.stringify({ ...base, prefixes: ['ok', 3] }))).toMatch(/line 1: prefixes\[1\] 3 is not a non-empty text/);
    expect(error(JSON.stringify({ ...base, prefixes: ['base64:!!'] }))).toMatch(/line 1: prefixes\[0\] "base64:!!" is not valid non-empty base64/);
  });
});

describe('authorization', () => {
  const t = table([{ name: 'r', role: 'read-only', tokenSha256: hash('tok-r') }, { name: 'w', role: 'read-write', certificateCommonName: 'web', prefixes: ['users/'] }]);

  test('finds a client by its token, and none for another token', () => {
    expect(clientByToken(t, 'tok-r')?.name).toBe('r');
    expect(clientByToken(t, 'tok-x')).toBeUndefined();
    expect(clientByCommonName(t, 'web')?.name).toBe('w');
  });

  test('roles: read-only reads, read-write also writes, admin does everything', () => {
    expect([roleAllows('read-only', 'read'), roleAllows('read-only', 'write'), roleAllows('read-only', 'admin')]).toEqual([true, false, false]);
    expect([roleAllows('read-write', 'read'), roleAllows('read-write', 'write'), roleAllows('read-write', 'admin')]).toEqual([true, true, false]);
    expect([roleAllows('admin', 'read'), roleAllows('admin', 'write'), roleAllows('admin', 'admin')]).toEqual([true, true, true]);
  });

  test('a prefix rule allows keys that start with a prefix, and rejects shorter or other keys', () => {
    const w = clientByCommonName(t, 'web')!;
    expect(prefixAllows(w, Buffer.from('users/1'))).toBe(true);
    expect(prefixAllows(w, Buffer.from('users/'))).toBe(true);
    expect(prefixAllows(w, Buffer.from('users'))).toBe(false);
    expect(prefixAllows(w, Buffer.from('orders/1'))).toBe(false);
    expect(prefixAllows(clientByToken(t, 'tok-r')!, Buffer.from('anything'))).toBe(true);
  });

  test('keys in messages: text when printable, base64 otherwise, cut to 64 characters', () => {
    expect(keyForMessage(Buffer.from('users/1'))).toBe('"users/1"');
    expect(keyForMessage(Buffer.from([0, 1, 2]))).toBe('base64:AAEC');
    expect(keyForMessage(Buffer.alloc(200, 'a')).length).toBe(64);
  });
});
