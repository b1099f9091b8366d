import { describe, expect, it } from 'vitest';
import { generateGossipKey, keyFingerprint, Keyring, KeyringError, MAX_GOSSIP_KEYS, parseGossipKey, SEAL_OVERHEAD } from '../../../src/gossip/keyring.ts';

const oldKey = generateGossipKey();
const newKey = generateGossipKey();
const payload = Buffer.from('a ping, say');

function refusal(action: () => void): string {
  try {
    action();
  } catch (error) {
    if (error instanceof KeyringError) return error.code;
    throw error;
  }
  throw new Error('expected a KeyringError');
}

describe('parseGossipKey', () => {
  it('takes base64 of exactly 32 bytes', () => {
    const parsed = parseGossipKey(oldKey);
    expect(parsed.ok && parsed.key.toString('base64')).toBe(oldKey);
  });

  it.each([
    ['12 bytes', Buffer.alloc(12).toString('base64'), 'got 12 bytes'],
    ['31 bytes', Buffer.alloc(31).toString('base64'), 'got 31 bytes'],
    ['64 bytes', Buffer.alloc(64).toString('base64'), 'got 64 bytes'],
    ['a passphrase', 'correct horse battery staple', 'got text that is not base64'],
    ['base64url', Buffer.alloc(32, 0xfb).toString('base64url'), 'got text that is not base64'],
    ['a key with a space', ` ${oldKey}`, 'got text that is not base64'],
    ['nothing', '', 'got text that is not base64'],
  ])('refuses %s, with the reason and never the text', (_name, text, got) => {
    const parsed = parseGossipKey(text);
    expect(parsed).toEqual({ ok: false, reason: `must be base64 of 32 bytes (make one with \`meshlet keygen\`), ${got}` });
  });
});

describe('Keyring', () => {
  it('opens what it sealed, and the frame carries neither the plaintext nor the key', () => {
    const ring = new Keyring([oldKey]);
    const frame = ring.seal(payload);
    expect(frame.length).toBe(payload.length + SEAL_OVERHEAD);
    expect(frame.includes(payload)).toBe(false);
    expect(frame.includes(Buffer.from(oldKey, 'base64'))).toBe(false);
    expect(ring.open(frame)).toEqual(payload);
  });

  it('draws a new nonce for every frame', () => {
    const ring = new Keyring([oldKey]);
    expect(ring.seal(payload).equals(ring.seal(payload))).toBe(false);
  });

  it('rotates without downtime: old frames open while the old key is installed, not after it is removed', () => {
    const sender = new Keyring([oldKey]);
    const receiver = new Keyring([oldKey]);
    const underOld = sender.seal(payload);

    receiver.install(newKey);
    receiver.use(newKey);
    expect(receiver.list()).toEqual([
      { fingerprint: keyFingerprint(Buffer.from(newKey, 'base64')), primary: true },
      { fingerprint: keyFingerprint(Buffer.from(oldKey, 'base64')), primary: false },
    ]);
    expect(receiver.open(underOld)).toEqual(payload);
    // What the receiver now seals opens only where the new key is installed.
    const underNew = receiver.seal(payload);
    expect(sender.open(underNew)).toBe('decrypt');
    sender.install(newKey);
    expect(sender.open(underNew)).toEqual(payload);

    receiver.remove(oldKey);
    expect(receiver.open(underOld)).toBe('decrypt');
    expect(receiver.list()).toEqual([{ fingerprint: keyFingerprint(Buffer.from(newKey, 'base64')), primary: true }]);
  });

  it('refuses to remove the primary key, to use a key it does not hold, and keys that are not keys', () => {
    const ring = new Keyring([oldKey]);
    expect(refusal(() => ring.remove(oldKey))).toBe('MESHLET_GOSSIP_KEY_IS_PRIMARY');
    expect(refusal(() => ring.use(newKey))).toBe('MESHLET_GOSSIP_KEY_NOT_INSTALLED');
    expect(refusal(() => ring.remove(newKey))).toBe('MESHLET_GOSSIP_KEY_NOT_INSTALLED');
    expect(refusal(() => ring.install('short'))).toBe('MESHLET_GOSSIP_KEY_INVALID');
    expect(ring.open(ring.seal(payload))).toEqual(payload);
  });

  it('installs a key twice as once, and holds at most MAX_GOSSIP_KEYS keys', () => {
    const ring = new Keyring([oldKey]);
    ring.install(oldKey);
    expect(ring.list()).toHaveLength(1);
    for (let i = 1; i < MAX_GOSSIP_KEYS; i++) ring.install(generateGossipKey());
    expect(refusal(() => ring.install(newKey))).toBe('MESHLET_GOSSIP_KEYRING_FULL');
  });

  it('shows operators fingerprints, never key bytes, in list() and in error messages', () => {
    const ring = new Keyring([oldKey, newKey]);
    const raw = Buffer.from(newKey, 'base64');
    const shown = JSON.stringify(ring.list());
    let message = '';
    try {
      ring.remove(oldKey);
    } catch (error) {
      message = (error as Error).message;
    }
    for (const text of [shown, message, JSON.stringify(ring)]) {
      expect(text).not.toContain(newKey);
      expect(text).not.toContain(oldKey);
      expect(text).not.toContain(raw.toString('hex'));
    }
    expect(message).toContain(keyFingerprint(Buffer.from(oldKey, 'base64')));
  });

  it('tells a truncated frame, an unknown version and a bad tag apart', () => {
    const ring = new Keyring([oldKey]);
    const frame = ring.seal(payload);
    expect(ring.open(frame.subarray(0, SEAL_OVERHEAD - 1))).toBe('truncated');
    expect(ring.open(Buffer.concat([Buffer.of(2), frame.subarray(1)]))).toBe('version');
    const flipped = Buffer.from(frame);
    flipped[20]! ^= 0x01;
    expect(ring.open(flipped)).toBe('decrypt');
  });
});
