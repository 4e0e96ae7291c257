import { createCipheriv, createDecipheriv } from 'node:crypto';
import { DomainError } from '../../common/domain-error.js';

/**
 * The AES-256-GCM framing ShareKhan uses for request tokens and exchange values.
 * The official SDKs fix the IV at 16 zero bytes; we must match that byte-for-byte
 * to interoperate, even though a fixed IV is not what we would choose ourselves.
 */
export const SHAREKHAN_KEY_BYTES = 32;
export const GCM_TAG_BYTES = 16;
const ZERO_IV = Buffer.alloc(16);

/** Raised for problems with the configured secret key itself (never includes the key). */
export class ShareKhanSecretKeyError extends DomainError {
  override readonly name = 'ShareKhanSecretKeyError';
  constructor(message: string) {
    super('SHAREKHAN_SECRET_KEY_INVALID', message);
  }
}

export function secretKeyBytes(secretKey: string): Buffer {
  if (typeof secretKey !== 'string' || secretKey.length === 0) {
    throw new ShareKhanSecretKeyError('ShareKhan secret key is missing');
  }
  const key = Buffer.from(secretKey, 'utf8');
  if (key.length !== SHAREKHAN_KEY_BYTES) {
    throw new ShareKhanSecretKeyError(
      `ShareKhan secret key must be exactly ${SHAREKHAN_KEY_BYTES} bytes as UTF-8 (got ${key.length} bytes); check the configured secret`,
    );
  }
  return key;
}

/** Returns ciphertext || 16-byte tag. */
export function gcmSeal(plaintext: Buffer, key: Buffer): Buffer {
  const cipher = createCipheriv('aes-256-gcm', key, ZERO_IV, {
    authTagLength: GCM_TAG_BYTES,
  });
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([ciphertext, cipher.getAuthTag()]);
}

/**
 * Opens ciphertext || tag. Returns null when the tag does not verify, so callers
 * decide the error wording (and can keep secrets out of it).
 */
export function gcmOpen(sealed: Buffer, key: Buffer): Buffer | null {
  if (sealed.length <= GCM_TAG_BYTES) return null;
  const ciphertext = sealed.subarray(0, sealed.length - GCM_TAG_BYTES);
  const tag = sealed.subarray(sealed.length - GCM_TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, ZERO_IV, {
    authTagLength: GCM_TAG_BYTES,
  });
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    return null;
  }
}

/** A version id switches ShareKhan to base64url; empty/absent means standard base64. */
export function usesVersionId(versionId: string | null | undefined): boolean {
  return typeof versionId === 'string' && versionId.trim().length > 0;
}

export type TokenEncoding = 'base64url' | 'base64';

export function tokenEncoding(
  versionId: string | null | undefined,
): TokenEncoding {
  return usesVersionId(versionId) ? 'base64url' : 'base64';
}

/** base64url without padding, or padded standard base64: what the SDK emits. */
export function encodeSealed(sealed: Buffer, encoding: TokenEncoding): string {
  return sealed.toString(encoding);
}

const STD_B64 = /^[A-Za-z0-9+/]+={0,2}$/;
const URL_B64 = /^[A-Za-z0-9_-]+={0,2}$/;

/**
 * Strict decode: Node's Buffer.from(…, 'base64') silently skips junk characters,
 * which would let a mangled token reach the cipher. We require the alphabet, a
 * legal length and a canonical round trip instead.
 */
export function decodeStrict(
  text: string,
  encoding: TokenEncoding,
): Buffer | null {
  const pattern = encoding === 'base64url' ? URL_B64 : STD_B64;
  if (!pattern.test(text)) return null;
  const unpadded = text.replace(/=+$/, '');
  const padding = text.length - unpadded.length;
  if (unpadded.length % 4 === 1) return null;
  if (padding > 0 && text.length % 4 !== 0) return null;
  const bytes = Buffer.from(unpadded, encoding);
  const canonical = bytes.toString(encoding).replace(/=+$/, '');
  return canonical === unpadded ? bytes : null;
}
