import { createCipheriv, createDecipheriv, createHash, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';

const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** What is stored for a token: never the token itself. All binary fields are base64. */
export interface SealedToken {
  kid: string;
  iv: string;
  ct: string;
  tag: string;
}

export type TokenDecryptFailure = 'unknown-key' | 'auth-failed' | 'malformed';

/** The message names the failure only: no key, no ciphertext, no plaintext. */
export class TokenDecryptError extends Error {
  override readonly name = 'TokenDecryptError';
  constructor(readonly reason: TokenDecryptFailure) {
    super(
      reason === 'unknown-key'
        ? "stored token was encrypted with a key id that is not in ShareKhanAuthModule's `encryption.keys` option"
        : reason === 'auth-failed'
          ? 'stored token failed authentication: altered, or stored under another user'
          : 'stored token record is malformed',
    );
  }
}

/**
 * AES-256-GCM with a key id per record so keys can rotate: the active key encrypts, every
 * configured key still decrypts. The caller's associated data (the record's cache key) binds a
 * ciphertext to its place, so one copied under another user's key does not open.
 */
export class TokenKeyRing {
  /** KeyObjects, not Buffers: each cipher would otherwise import the raw key again. */
  private readonly keys = new Map<string, KeyObject>();

  constructor(
    keys: readonly { id: string; key: Buffer }[],
    readonly activeKeyId: string,
  ) {
    for (const { id, key } of keys) {
      if (key.length !== 32) throw new TypeError(`token key ${id} must be 32 bytes`);
      this.keys.set(id, createSecretKey(Buffer.from(key)));
    }
    if (!this.keys.has(activeKeyId)) throw new TypeError(`active token key ${activeKeyId} is not in the key ring`);
  }

  static fromBase64(keys: readonly { id: string; keyBase64: string }[], activeKeyId: string): TokenKeyRing {
    return new TokenKeyRing(
      keys.map((k) => ({ id: k.id, key: Buffer.from(k.keyBase64, 'base64') })),
      activeKeyId,
    );
  }

  get keyIds(): string[] {
    return [...this.keys.keys()];
  }

  seal(plaintext: string, associatedData: string): SealedToken {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, this.keys.get(this.activeKeyId)!, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(associatedData, 'utf8'));
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return {
      kid: this.activeKeyId,
      iv: iv.toString('base64'),
      ct: ct.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
    };
  }

  open(sealed: SealedToken, associatedData: string): string {
    if (!sealed || typeof sealed !== 'object' || [sealed.kid, sealed.iv, sealed.ct, sealed.tag].some((v) => typeof v !== 'string')) {
      throw new TokenDecryptError('malformed');
    }
    const key = this.keys.get(sealed.kid);
    if (!key) throw new TokenDecryptError('unknown-key');
    const iv = Buffer.from(sealed.iv, 'base64');
    const tag = Buffer.from(sealed.tag, 'base64');
    if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new TokenDecryptError('malformed');
    try {
      const decipher = createDecipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(associatedData, 'utf8'));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(Buffer.from(sealed.ct, 'base64')), decipher.final()]).toString('utf8');
    } catch {
      throw new TokenDecryptError('auth-failed');
    }
  }
}

/**
 * A short, stable name for a token that is safe to show and log: it lets people tell tokens apart
 * and match audit events, and stays the same across key rotation.
 */
export function tokenFingerprint(token: string): string {
  return `sha256:${createHash('sha256').update(token, 'utf8').digest('hex').slice(0, 16)}`;
}

/** Only the last four characters, and only when the token is long enough that they reveal little. */
export function maskToken(token: string): string {
  if (token.length < 16) return '****';
  return `****${token.slice(-4)}`;
}
