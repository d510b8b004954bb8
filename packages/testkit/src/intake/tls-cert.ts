// Makes a throw-away certificate authority and a server certificate signed by it, at run time,
// with node's crypto only: a minimal DER writer for the few X.509 structures involved. Nothing
// private is ever written to disk or checked in.
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { isIP } from 'node:net';

export interface TestCertificate {
  /** PEM of the CA that signed `cert`: what a client adds to its trust store. */
  ca: string;
  /** PEM of the server certificate. */
  cert: string;
  /** PEM (PKCS#8) of the server key. */
  key: string;
  /** The names and addresses the server certificate is valid for. */
  hostnames: string[];
}

// ---- DER ----------------------------------------------------------------------------------

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

const tlv = (tag: number, body: Buffer): Buffer =>
  Buffer.concat([Buffer.from([tag]), len(body.length), body]);
const seq = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]): Buffer => tlv(0x31, Buffer.concat(items));
const explicit = (n: number, inner: Buffer): Buffer => tlv(0xa0 + n, inner);
const octets = (b: Buffer): Buffer => tlv(0x04, b);
const bitString = (b: Buffer, unused = 0): Buffer => tlv(0x03, Buffer.concat([Buffer.from([unused]), b]));
const utf8 = (s: string): Buffer => tlv(0x0c, Buffer.from(s, 'utf8'));
const bool = (v: boolean): Buffer => tlv(0x01, Buffer.from([v ? 0xff : 0]));

function integer(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0 && (b[i + 1]! & 0x80) === 0) i++;
  const body = b.subarray(i);
  return tlv(0x02, (body[0]! & 0x80) !== 0 ? Buffer.concat([Buffer.from([0]), body]) : body);
}

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out: number[] = [parts[0]! * 40 + parts[1]!];
  for (const p of parts.slice(2)) {
    const chunk: number[] = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

function time(d: Date): Buffer {
  // UTCTime for years before 2050, GeneralizedTime after, as RFC 5280 requires.
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return d.getUTCFullYear() < 2050
    ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`))
    : tlv(0x18, Buffer.from(`${iso}Z`));
}

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyId: '2.5.29.14',
  authorityKeyId: '2.5.29.35',
  serverAuth: '1.3.6.1.5.5.7.3.1',
};

const name = (cn: string): Buffer =>
  seq(
    set(seq(oid(OID.organization), utf8('serverless-agent testkit'))),
    set(seq(oid(OID.commonName), utf8(cn))),
  );

const extension = (id: string, critical: boolean, value: Buffer): Buffer =>
  critical ? seq(oid(id), bool(true), octets(value)) : seq(oid(id), octets(value));

function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  // IPv6: expand "::" and write 8 groups of 16 bits.
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return Buffer.from(
    groups.flatMap((g) => [(Number.parseInt(g, 16) >> 8) & 0xff, Number.parseInt(g, 16) & 0xff]),
  );
}

function subjectAltNames(hostnames: string[]): Buffer {
  return seq(...hostnames.map((h) => (isIP(h) ? tlv(0x87, ipBytes(h)) : tlv(0x82, Buffer.from(h, 'ascii')))));
}

const pem = (label: string, der: Buffer): string =>
  `-----BEGIN ${label}-----\n${der
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n')}\n-----END ${label}-----\n`;

interface KeyPair {
  spki: Buffer;
  privateKey: ReturnType<typeof generateKeyPairSync>['privateKey'];
  keyId: Buffer;
}

function keyPair(): KeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  // Key identifier: SHA-1 of the whole SubjectPublicKeyInfo (an accepted method under RFC 7093).
  return { spki, privateKey, keyId: createHash('sha1').update(spki).digest() };
}

function certificate(opts: {
  subject: string;
  issuer: string;
  subjectKey: KeyPair;
  issuerKey: KeyPair;
  isCa: boolean;
  hostnames: string[];
  notBefore: Date;
  notAfter: Date;
}): Buffer {
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f;
  const algorithm = seq(oid(OID.ecdsaWithSha256));
  const extensions = opts.isCa
    ? [
        extension(OID.basicConstraints, true, seq(bool(true))),
        // keyCertSign (bit 5) and cRLSign (bit 6): 0b0000011 in 7 bits → 0x06 with 1 unused bit.
        extension(OID.keyUsage, true, bitString(Buffer.from([0x06]), 1)),
        extension(OID.subjectKeyId, false, octets(opts.subjectKey.keyId)),
      ]
    : [
        extension(OID.basicConstraints, true, seq()),
        // digitalSignature (bit 0) → 0x80 with 7 unused bits.
        extension(OID.keyUsage, true, bitString(Buffer.from([0x80]), 7)),
        extension(OID.extKeyUsage, false, seq(oid(OID.serverAuth))),
        extension(OID.subjectAltName, false, subjectAltNames(opts.hostnames)),
        extension(OID.subjectKeyId, false, octets(opts.subjectKey.keyId)),
        extension(OID.authorityKeyId, false, seq(tlv(0x80, opts.issuerKey.keyId))),
      ];
  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))),
    integer(serial),
    algorithm,
    name(opts.issuer),
    seq(time(opts.notBefore), time(opts.notAfter)),
    name(opts.subject),
    opts.subjectKey.spki,
    explicit(3, seq(...extensions)),
  );
  const signature = sign('sha256', tbs, opts.issuerKey.privateKey);
  return seq(tbs, algorithm, bitString(signature));
}

/** Names every server certificate covers: loopback plus the Datadog intake hosts of every site. */
export const DEFAULT_CERT_HOSTNAMES: readonly string[] = ['localhost', '127.0.0.1', '::1'];

/**
 * Makes a fresh CA and a server certificate for `hostnames` (DNS names, wildcards such as
 * `*.datadoghq.com`, or IP addresses), valid from an hour ago for `days` days.
 */
export function makeTestCertificate(
  hostnames: readonly string[] = DEFAULT_CERT_HOSTNAMES,
  days = 7,
  now = new Date(),
): TestCertificate {
  const caKey = keyPair();
  const serverKey = keyPair();
  const notBefore = new Date(now.getTime() - 3_600_000);
  const notAfter = new Date(now.getTime() + days * 86_400_000);
  const caCert = certificate({
    subject: 'serverless-agent testkit CA',
    issuer: 'serverless-agent testkit CA',
    subjectKey: caKey,
    issuerKey: caKey,
    isCa: true,
    hostnames: [],
    notBefore,
    notAfter,
  });
  const list = [...new Set(hostnames)];
  const serverCert = certificate({
    subject: list.find((h) => !isIP(h)) ?? 'localhost',
    issuer: 'serverless-agent testkit CA',
    subjectKey: serverKey,
    issuerKey: caKey,
    isCa: false,
    hostnames: list,
    notBefore,
    notAfter,
  });
  return {
    ca: pem('CERTIFICATE', caCert),
    cert: pem('CERTIFICATE', serverCert),
    key: serverKey.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    hostnames: list,
  };
}
