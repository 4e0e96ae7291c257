import { randomBytes } from 'node:crypto';
import { TokenDecryptError, TokenKeyRing, maskToken, tokenFingerprint } from './token-crypto.js';

const key = () => randomBytes(32);

describe('TokenKeyRing', () => {
  const k1 = key();
  const k2 = key();

  it('round-trips with the associated data and never stores the plaintext', () => {
    const ring = new TokenKeyRing([{ id: 'k1', key: k1 }], 'k1');
    const sealed = ring.seal('secret-access-token-123', 'sharekhan:token:USER_A');
    expect(JSON.stringify(sealed)).not.toContain('secret-access-token-123');
    expect(sealed.kid).toBe('k1');
    expect(ring.open(sealed, 'sharekhan:token:USER_A')).toBe('secret-access-token-123');
  });

  it('uses a fresh IV per write', () => {
    const ring = new TokenKeyRing([{ id: 'k1', key: k1 }], 'k1');
    const a = ring.seal('same', 'aad');
    const b = ring.seal('same', 'aad');
    expect(a.iv).not.toBe(b.iv);
    expect(a.ct).not.toBe(b.ct);
  });

  it('refuses a ciphertext moved to another user key (associated data differs)', () => {
    const ring = new TokenKeyRing([{ id: 'k1', key: k1 }], 'k1');
    const sealed = ring.seal('ZX9-plain-QW7', 'sharekhan:token:USER_A');
    expect(() => ring.open(sealed, 'sharekhan:token:USER_B')).toThrow(TokenDecryptError);
    try {
      ring.open(sealed, 'sharekhan:token:USER_B');
    } catch (err) {
      expect((err as TokenDecryptError).reason).toBe('auth-failed');
      expect((err as Error).message).not.toContain('ZX9-plain-QW7');
    }
  });

  it('detects tampering with ciphertext, tag or iv', () => {
    const ring = new TokenKeyRing([{ id: 'k1', key: k1 }], 'k1');
    const sealed = ring.seal('token-text', 'aad');
    const flip = (b64: string) => {
      const b = Buffer.from(b64, 'base64');
      b[0] ^= 1;
      return b.toString('base64');
    };
    expect(() => ring.open({ ...sealed, ct: flip(sealed.ct) }, 'aad')).toThrow(/authentication/);
    expect(() => ring.open({ ...sealed, tag: flip(sealed.tag) }, 'aad')).toThrow(/authentication/);
    expect(() => ring.open({ ...sealed, iv: flip(sealed.iv) }, 'aad')).toThrow(/authentication/);
    expect(() => ring.open({ ...sealed, iv: 'AAAA' }, 'aad')).toThrow(/malformed/);
  });

  it('rotates: the active key encrypts, old keys still decrypt, removed keys fail clearly', () => {
    const old = new TokenKeyRing([{ id: 'k1', key: k1 }], 'k1');
    const sealedOld = old.seal('old-token', 'aad');
    const rotated = new TokenKeyRing(
      [
        { id: 'k1', key: k1 },
        { id: 'k2', key: k2 },
      ],
      'k2',
    );
    expect(rotated.open(sealedOld, 'aad')).toBe('old-token');
    const sealedNew = rotated.seal('new-token', 'aad');
    expect(sealedNew.kid).toBe('k2');
    const onlyNew = new TokenKeyRing([{ id: 'k2', key: k2 }], 'k2');
    expect(onlyNew.open(sealedNew, 'aad')).toBe('new-token');
    expect(() => onlyNew.open(sealedOld, 'aad')).toThrow(/key id that is not in ShareKhanAuthModule's `encryption.keys` option/);
  });

  it('a key id pointing at a different key does not decrypt', () => {
    const sealed = new TokenKeyRing([{ id: 'k1', key: k1 }], 'k1').seal('t', 'aad');
    const impostor = new TokenKeyRing([{ id: 'k1', key: k2 }], 'k1');
    expect(() => impostor.open(sealed, 'aad')).toThrow(TokenDecryptError);
  });

  it('rejects bad key material and an active id that is not in the ring', () => {
    expect(() => new TokenKeyRing([{ id: 'k1', key: randomBytes(16) }], 'k1')).toThrow(/32 bytes/);
    expect(() => new TokenKeyRing([{ id: 'k1', key: k1 }], 'k9')).toThrow(/not in the key ring/);
  });
});

describe('fingerprint and mask', () => {
  it('fingerprint is stable, short and does not contain the token', () => {
    const t = 'abcdefghijklmnopqrstuvwxyz0123456789';
    expect(tokenFingerprint(t)).toBe(tokenFingerprint(t));
    expect(tokenFingerprint(t)).toMatch(/^sha256:[0-9a-f]{16}$/);
    expect(tokenFingerprint(t)).not.toBe(tokenFingerprint(`${t}x`));
  });

  it('mask shows at most the last four characters', () => {
    expect(maskToken('abcdefghijklmnopqrstuvwxyz')).toBe('****wxyz');
    expect(maskToken('short-token')).toBe('****');
  });
});
