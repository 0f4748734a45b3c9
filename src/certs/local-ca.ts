/**
 * The local CA (ARCHITECTURE.md "Certificates": the default, like a development CA). One ECDSA
 * P-256 root is created once under `<data-dir>/certs/ca/` (key file 0600) and signs a leaf per
 * host name on demand; leaves are cached under `<data-dir>/certs/leaves/` so restarts do not
 * re-issue. Users trust the root once (`hangar certs ca`).
 *
 * Certificates are built with `@peculiar/x509` over Node's WebCrypto; no shell, no openssl.
 */
import { mkdir, readFile, rename, rm, writeFile, chmod } from 'node:fs/promises';
import { randomBytes, webcrypto } from 'node:crypto';
import { join } from 'node:path';
import {
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  ExtendedKeyUsage,
  ExtendedKeyUsageExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  PemConverter,
  SubjectAlternativeNameExtension,
  SubjectKeyIdentifierExtension,
  X509Certificate,
  X509CertificateGenerator,
} from '@peculiar/x509';
import { HangarError, type ErrorCode } from '../core/errors.js';
import { certFileStem, isCertName } from '../core/certs/select.js';
import { LEAF_LIFETIME_DAYS, ROOT_LIFETIME_DAYS, needsRenewal, validityFrom, type Validity } from '../core/certs/lifetime.js';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
const crypto = webcrypto;
const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const ROOT_CERT = 'root.pem';
const ROOT_KEY = 'root-key.pem';

/** A certificate with its key, both PEM, ready for `tls.createSecureContext`. */
export interface IssuedCert {
  readonly name: string;
  /** The leaf followed by the root that signed it (clients build the chain from it). */
  readonly certPem: string;
  readonly keyPem: string;
  readonly validity: Validity;
}

// Codes asked of the lead for core/errors.ts + docs/errors.md; suggestions are passed here so
// the CLI can print them before the registry has them.
const CA_CODE: ErrorCode = 'HANGAR_ERR_CERT_CA';
const NAME_CODE: ErrorCode = 'HANGAR_ERR_CERT_NAME';

/** The local CA failed to create, read or use its files. */
export class CertError extends HangarError {
  constructor(message: string, cause?: unknown) {
    super(CA_CODE, message, { cause, suggestion: 'Check that the data dir is writable by the user running Hangar, or pass another with --data-dir.' });
    this.name = 'CertError';
  }
}

/** A name that no certificate can carry (not a host name or `*.` wildcard). */
export class CertNameError extends HangarError {
  constructor(name: string) {
    super(NAME_CODE, `'${name}' is not a host name a certificate can be issued for`, { suggestion: 'Use a DNS host name (letters, digits, hyphens, dots) or a *.domain wildcard.' });
    this.name = 'CertNameError';
  }
}

function serial(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f; // positive INTEGER (RFC 5280 §4.1.2.2)
  return b.toString('hex');
}

async function keyPem(key: CryptoKey): Promise<string> {
  return PemConverter.encode(await crypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

async function importKey(pem: string): Promise<CryptoKey> {
  const der = PemConverter.decode(pem)[0];
  if (!der) throw new CertError('the CA key file holds no PEM block');
  return crypto.subtle.importKey('pkcs8', der, EC, false, ['sign']);
}

function isCode(err: unknown, ...codes: string[]): boolean {
  return typeof err === 'object' && err !== null && codes.includes((err as { code?: string }).code ?? '');
}

export class LocalCa {
  private readonly issuing = new Map<string, Promise<IssuedCert>>();

  private constructor(
    private readonly dir: string,
    /** The root certificate, PEM. */
    readonly rootPem: string,
    private readonly root: X509Certificate,
    private readonly rootKey: CryptoKey,
    private readonly now: () => Date,
  ) {}

  /**
   * Opens the CA under `<dataDir>/certs`, creating the root the first time. Two processes racing
   * to create it both end up with the same root: each builds its own in a temporary folder and
   * renames it into place; the loser's rename fails and it reads the winner's.
   */
  static async open(dataDir: string, opts: { now?: () => Date } = {}): Promise<LocalCa> {
    const now = opts.now ?? (() => new Date());
    const dir = join(dataDir, 'certs');
    const caDir = join(dir, 'ca');
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const existing = await LocalCa.load(caDir);
      if (existing) return new LocalCa(dir, existing.pem, existing.cert, existing.key, now);
      const tmp = join(dir, `.ca-${process.pid}-${randomBytes(4).toString('hex')}`);
      await LocalCa.createRoot(tmp, now());
      try {
        await rename(tmp, caDir);
      } catch (err) {
        await rm(tmp, { recursive: true, force: true });
        if (!isCode(err, 'ENOTEMPTY', 'EEXIST')) throw err;
      }
      const created = await LocalCa.load(caDir);
      if (!created) throw new CertError(`the CA root under ${caDir} vanished while it was being created`);
      return new LocalCa(dir, created.pem, created.cert, created.key, now);
    } catch (err) {
      if (err instanceof HangarError) throw err;
      throw new CertError(`cannot open the local CA under ${dir}: ${(err as Error).message}`, err);
    }
  }

  /** Reads the root without creating one; `null` when there is none yet. */
  static async readRootPem(dataDir: string): Promise<string | null> {
    try {
      return await readFile(join(dataDir, 'certs', 'ca', ROOT_CERT), 'utf8');
    } catch (err) {
      if (isCode(err, 'ENOENT')) return null;
      throw new CertError(`cannot read the local CA root: ${(err as Error).message}`, err);
    }
  }

  private static async load(caDir: string): Promise<{ pem: string; cert: X509Certificate; key: CryptoKey } | null> {
    let pem: string;
    let kp: string;
    try {
      [pem, kp] = await Promise.all([readFile(join(caDir, ROOT_CERT), 'utf8'), readFile(join(caDir, ROOT_KEY), 'utf8')]);
    } catch (err) {
      if (isCode(err, 'ENOENT')) return null;
      throw err;
    }
    try {
      return { pem, cert: new X509Certificate(pem), key: await importKey(kp) };
    } catch (err) {
      throw new CertError(`the local CA files under ${caDir} are damaged (${(err as Error).message}); move the folder away to create a new root`, err);
    }
  }

  private static async createRoot(tmp: string, now: Date): Promise<void> {
    const keys = (await crypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as CryptoKeyPair;
    const v = validityFrom(now, ROOT_LIFETIME_DAYS);
    const cert = await X509CertificateGenerator.createSelfSigned(
      {
        serialNumber: serial(),
        // A per-root suffix so several Hangar roots in one trust store can be told apart.
        name: `CN=Hangar Local CA ${randomBytes(3).toString('hex')}, O=Hangar development CA`,
        notBefore: v.notBefore,
        notAfter: v.notAfter,
        keys,
        signingAlgorithm: EC,
        extensions: [
          new BasicConstraintsExtension(true, 0, true),
          new KeyUsagesExtension(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign | KeyUsageFlags.digitalSignature, true),
          await SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
        ],
      },
      crypto,
    );
    await mkdir(tmp, { mode: 0o700 });
    await writeFile(join(tmp, ROOT_KEY), await keyPem(keys.privateKey), { mode: 0o600, flag: 'wx' });
    await writeFile(join(tmp, ROOT_CERT), cert.toString('pem') + '\n', { mode: 0o644, flag: 'wx' });
    // The folder is created 0700 under any umask, but be explicit about the key.
    await chmod(join(tmp, ROOT_KEY), 0o600);
  }

  /**
   * A valid leaf for `name` (a host name or `*.domain`): from memory, from the disk cache, or
   * freshly issued when missing, not signed by this root, or due for renewal (core/certs/lifetime.ts).
   * Concurrent calls for one name share one issuance.
   */
  leaf(name: string): Promise<IssuedCert> {
    if (!isCertName(name)) return Promise.reject(new CertNameError(name));
    const pending = this.issuing.get(name);
    if (pending) return pending;
    const p = this.cachedOrIssue(name).finally(() => this.issuing.delete(name));
    this.issuing.set(name, p);
    return p;
  }

  private leafPath(name: string): string {
    return join(this.dir, 'leaves', `${certFileStem(name)}.pem`);
  }

  private async cachedOrIssue(name: string): Promise<IssuedCert> {
    const cached = await this.readCached(name);
    if (cached && !needsRenewal(cached.validity, this.now())) return cached;
    const issued = await this.issue(name);
    try {
      await mkdir(join(this.dir, 'leaves'), { recursive: true, mode: 0o700 });
      const tmp = `${this.leafPath(name)}.${randomBytes(4).toString('hex')}.tmp`;
      await writeFile(tmp, issued.keyPem + issued.certPem, { mode: 0o600 });
      await rename(tmp, this.leafPath(name));
    } catch {
      // The cache is an optimisation: a read-only data dir still serves freshly issued leaves.
    }
    return issued;
  }

  private async readCached(name: string): Promise<IssuedCert | null> {
    let text: string;
    try {
      text = await readFile(this.leafPath(name), 'utf8');
    } catch {
      return null;
    }
    try {
      const keyMatch = /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----\n?/.exec(text);
      const certStart = text.indexOf('-----BEGIN CERTIFICATE-----');
      if (!keyMatch || certStart < 0) return null;
      const certPem = text.slice(certStart);
      const leaf = new X509Certificate(certPem);
      if (leaf.issuer !== this.root.subject || !(await leaf.verify({ publicKey: this.root.publicKey, signatureOnly: true }, crypto))) return null;
      const san = leaf.getExtension(SubjectAlternativeNameExtension);
      if (!san?.names.items.some((n) => n.type === 'dns' && n.value === name)) return null;
      return { name, certPem, keyPem: keyMatch[0], validity: { notBefore: leaf.notBefore, notAfter: leaf.notAfter } };
    } catch {
      return null; // a damaged cache entry is re-issued
    }
  }

  private async issue(name: string): Promise<IssuedCert> {
    const keys = (await crypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as CryptoKeyPair;
    const validity = validityFrom(this.now(), LEAF_LIFETIME_DAYS);
    const notAfter = validity.notAfter < this.root.notAfter ? validity.notAfter : this.root.notAfter;
    const cert = await X509CertificateGenerator.create(
      {
        serialNumber: serial(),
        subject: `CN=${name}`,
        issuer: this.root.subject,
        notBefore: validity.notBefore,
        notAfter,
        publicKey: keys.publicKey,
        signingKey: this.rootKey,
        signingAlgorithm: EC,
        extensions: [
          new BasicConstraintsExtension(false, undefined, true),
          new KeyUsagesExtension(KeyUsageFlags.digitalSignature, true),
          new ExtendedKeyUsageExtension([ExtendedKeyUsage.serverAuth]),
          new SubjectAlternativeNameExtension([{ type: 'dns', value: name }]),
          await SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
          await AuthorityKeyIdentifierExtension.create(this.root, false, crypto),
        ],
      },
      crypto,
    );
    return {
      name,
      certPem: `${cert.toString('pem')}\n${this.rootPem.trimEnd()}\n`,
      keyPem: `${await keyPem(keys.privateKey)}\n`,
      validity: { notBefore: validity.notBefore, notAfter },
    };
  }
}

/**
 * A self-signed certificate signed by nobody we know, for `tls_options.default_self_signed`
 * (Fly serves one when no certificate exists for the name asked for). Made once per process.
 */
export async function selfSignedCert(now: Date = new Date()): Promise<IssuedCert> {
  const keys = (await crypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as CryptoKeyPair;
  const v = validityFrom(now, LEAF_LIFETIME_DAYS);
  const cert = await X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial(),
      name: 'CN=hangar self-signed',
      notBefore: v.notBefore,
      notAfter: v.notAfter,
      keys,
      signingAlgorithm: EC,
      extensions: [new BasicConstraintsExtension(false, undefined, true), new ExtendedKeyUsageExtension([ExtendedKeyUsage.serverAuth])],
    },
    crypto,
  );
  return { name: '', certPem: `${cert.toString('pem')}\n`, keyPem: `${await keyPem(keys.privateKey)}\n`, validity: v };
}
