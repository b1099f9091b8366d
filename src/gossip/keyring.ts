// The gossip keyring (memberlist's keyring.go, Serf's `keys` command): AES-256-GCM keys, the
// first of which seals everything this member sends while every key is tried on what
// arrives, so a key rotates without downtime: install the new key everywhere, use it
// everywhere, remove the old one.
//
// A sealed frame is [version][12-byte random nonce][ciphertext][16-byte tag], with the version
// byte as additional data. The frame does not name its key: a bad tag and a key this ring does
// not hold look the same ("decrypt"), and an eavesdropper learns nothing of which key is used.
// Key bytes are held as KeyObjects and never leave this file: operators see fingerprints.

import { createCipheriv, createDecipheriv, createHash, createSecretKey, randomBytes, randomFillSync, type KeyObject } from 'node:crypto';
import { GossipError } from './gossip-error.ts';

export const GOSSIP_KEY_BYTES = 32;
/** Each frame that fails is tried against every key, so the ring stays small. */
export const MAX_GOSSIP_KEYS = 8;

const FRAME_VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + NONCE_BYTES;
/** What sealing adds to a plaintext. */
export const SEAL_OVERHEAD = HEADER_BYTES + TAG_BYTES;

const VERSION_AAD = Uint8Array.of(FRAME_VERSION);
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const KEY_HELP = 'must be base64 of 32 bytes (make one with `meshlet keygen`)';

export type GossipKeyResult = { readonly ok: true; readonly key: Buffer } | { readonly ok: false; readonly reason: string };

/** A key as written in config or sent to the admin API; the reason never repeats the text. */
export function parseGossipKey(text: string): GossipKeyResult {
  if (text.length % 4 !== 0 || !BASE64.test(text)) return { ok: false, reason: `${KEY_HELP}, got text that is not base64` };
  const key = Buffer.from(text, 'base64');
  if (key.length !== GOSSIP_KEY_BYTES) return { ok: false, reason: `${KEY_HELP}, got ${key.length} bytes` };
  return { ok: true, key };
}

/** A new key as `meshlet keygen` prints it. */
export function generateGossipKey(): string {
  return randomBytes(GOSSIP_KEY_BYTES).toString('base64');
}

/** What an operator may see of a key: the first 16 hex digits of its SHA-256. */
export function keyFingerprint(key: Uint8Array): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

export type KeyringErrorCode =
  | 'MESHLET_GOSSIP_KEY_INVALID'
  | 'MESHLET_GOSSIP_KEY_NOT_INSTALLED'
  | 'MESHLET_GOSSIP_KEY_IS_PRIMARY'
  | 'MESHLET_GOSSIP_KEYRING_FULL';

/** A refused rotation step. */
export class KeyringError extends GossipError<KeyringErrorCode> {
  override readonly name = 'KeyringError';
}

export interface KeyInfo {
  readonly fingerprint: string;
  /** The key that seals what this member sends. */
  readonly primary: boolean;
}

/** Why a frame did not open. */
export type OpenFailure = 'truncated' | 'version' | 'decrypt';

interface RingKey {
  readonly fingerprint: string;
  readonly secret: KeyObject;
}

export class Keyring {
  /** The primary first: it seals, and most frames open with it on the first try. */
  private keys: RingKey[];

  /** `keys` as config lists them (base64); the first is the primary. */
  constructor(keys: readonly string[]) {
    if (keys.length === 0) throw new KeyringError('MESHLET_GOSSIP_KEY_INVALID', 'a keyring needs at least one key');
    this.keys = [];
    for (const key of keys) this.install(key);
  }

  /** Adds a key that frames may be opened with; installing a key twice changes nothing. */
  install(text: string): void {
    const key = ringKey(text);
    if (this.find(key.fingerprint) >= 0) return;
    if (this.keys.length >= MAX_GOSSIP_KEYS) {
      throw new KeyringError('MESHLET_GOSSIP_KEYRING_FULL', `the keyring holds ${MAX_GOSSIP_KEYS} keys already; remove one first`);
    }
    this.keys.push(key);
  }

  /** Makes an installed key the one that seals. */
  use(text: string): void {
    const index = this.installed(text);
    const [key] = this.keys.splice(index, 1);
    this.keys.unshift(key!);
  }

  /** Removes a key; the primary cannot be removed (use another first). */
  remove(text: string): void {
    const index = this.installed(text);
    if (index === 0) {
      throw new KeyringError('MESHLET_GOSSIP_KEY_IS_PRIMARY', `key ${this.keys[0]!.fingerprint} is the primary key; use another key before removing it`);
    }
    this.keys.splice(index, 1);
  }

  list(): KeyInfo[] {
    return this.keys.map((key, i) => ({ fingerprint: key.fingerprint, primary: i === 0 }));
  }

  /** Seals the concatenation of `parts` under the primary key. */
  seal(...parts: readonly Uint8Array[]): Buffer {
    let length = 0;
    for (const part of parts) length += part.length;
    const frame = Buffer.allocUnsafe(SEAL_OVERHEAD + length);
    frame[0] = FRAME_VERSION;
    const nonce = frame.subarray(1, HEADER_BYTES);
    randomFillSync(nonce);
    const cipher = createCipheriv('aes-256-gcm', this.keys[0]!.secret, nonce);
    cipher.setAAD(VERSION_AAD);
    let at = HEADER_BYTES;
    for (const part of parts) at += cipher.update(part).copy(frame, at);
    at += cipher.final().copy(frame, at);
    cipher.getAuthTag().copy(frame, at);
    return frame;
  }

  /** The plaintext of a frame sealed under any key of the ring, or why it did not open. */
  open(frame: Uint8Array): Buffer | OpenFailure {
    if (frame.length < SEAL_OVERHEAD) return 'truncated';
    if (frame[0] !== FRAME_VERSION) return 'version';
    const nonce = frame.subarray(1, HEADER_BYTES);
    const ciphertext = frame.subarray(HEADER_BYTES, frame.length - TAG_BYTES);
    const tag = frame.subarray(frame.length - TAG_BYTES);
    for (const key of this.keys) {
      const decipher = createDecipheriv('aes-256-gcm', key.secret, nonce);
      decipher.setAAD(VERSION_AAD);
      decipher.setAuthTag(tag);
      const plaintext = decipher.update(ciphertext);
      try {
        decipher.final();
        return plaintext;
      } catch {
        // The tag does not match under this key; the next may hold it.
      }
    }
    return 'decrypt';
  }

  private installed(text: string): number {
    const { fingerprint } = ringKey(text);
    const index = this.find(fingerprint);
    if (index < 0) throw new KeyringError('MESHLET_GOSSIP_KEY_NOT_INSTALLED', `key ${fingerprint} is not installed`);
    return index;
  }

  private find(fingerprint: string): number {
    return this.keys.findIndex((key) => key.fingerprint === fingerprint);
  }
}

function ringKey(text: string): RingKey {
  const parsed = parseGossipKey(text);
  if (!parsed.ok) throw new KeyringError('MESHLET_GOSSIP_KEY_INVALID', `the key ${parsed.reason}`);
  const ring = { fingerprint: keyFingerprint(parsed.key), secret: createSecretKey(parsed.key) };
  parsed.key.fill(0);
  return ring;
}
