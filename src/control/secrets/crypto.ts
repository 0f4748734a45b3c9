/**
 * Secrets at rest: AES-256-GCM under a 32-byte key kept in a file beside (not inside) the
 * database, mode 0600 (ARCHITECTURE.md "Secrets"). The API encrypts; the agent decrypts when it
 * builds a machine's environment. Ciphertext format: base64(iv) "." base64(tag) "." base64(data),
 * with the secret's `<app>:<NAME>` as additional authenticated data so a ciphertext copied onto
 * another secret's row fails to open instead of leaking under the wrong name.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { chmodSync, openSync, readFileSync, writeSync, closeSync, statSync } from 'node:fs';

export interface SecretBox {
  encrypt(aad: string, plaintext: string): string;
  decrypt(aad: string, ciphertext: string): string;
}

/** sha256 hex of a value: what listings show instead of the value. */
export function secretDigest(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/**
 * Loads the key at `path`, creating it (0600, exclusively) on first use. A key file of the wrong
 * size or with group/other permissions is refused: a truncated or exposed key must not be used.
 */
export function loadSecretKey(path: string): Buffer {
  try {
    const fd = openSync(path, 'wx', 0o600);
    try {
      writeSync(fd, randomBytes(32));
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const st = statSync(path);
  if ((st.mode & 0o077) !== 0) chmodSync(path, 0o600);
  const key = readFileSync(path);
  if (key.length !== 32) throw new Error(`secret key file ${path} holds ${key.length} bytes, expected 32; restore it from backup`);
  return key;
}

export function createSecretBox(key: Buffer): SecretBox {
  return {
    encrypt(aad, plaintext) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(aad, 'utf8'));
      const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return `${iv.toString('base64')}.${cipher.getAuthTag().toString('base64')}.${data.toString('base64')}`;
    },
    decrypt(aad, ciphertext) {
      const [iv, tag, data] = ciphertext.split('.');
      if (iv === undefined || tag === undefined || data === undefined) throw new Error('malformed secret ciphertext');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'));
      decipher.setAAD(Buffer.from(aad, 'utf8'));
      decipher.setAuthTag(Buffer.from(tag, 'base64'));
      return Buffer.concat([decipher.update(Buffer.from(data, 'base64')), decipher.final()]).toString('utf8');
    },
  };
}
