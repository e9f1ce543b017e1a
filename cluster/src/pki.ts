// The cluster's PKI, made with the openssl CLI: one CA, the kube-apiserver serving cert, client
// certs for admin / controller-manager / scheduler / one per simulated kubelet, and the
// service-account signing key pair. ECDSA P-256 keys: generated in milliseconds.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export interface CertPair {
  cert: string;
  key: string;
}

export interface Pki {
  dir: string;
  ca: CertPair;
  apiserver: CertPair;
  admin: CertPair;
  controllerManager: CertPair;
  scheduler: CertPair;
  /** One client cert per node: CN=system:node:NAME, O=system:nodes (Node authorizer + NodeRestriction apply). */
  kubelets: Record<string, CertPair>;
  /** Extra admin clients (CN=NAME, O=system:masters): a distinct user per tool, so the audit log tells them apart. */
  clients: Record<string, CertPair>;
  serviceAccountKey: string;
  serviceAccountPub: string;
}

/** First IP of --service-cluster-ip-range 10.96.0.0/12: the `kubernetes` Service. */
export const FIRST_SERVICE_IP = '10.96.0.1';

async function openssl(args: string[]): Promise<void> {
  try {
    await execFileP('openssl', args);
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr ?? e.message}`, { cause: err });
  }
}

const genKey = (path: string): Promise<void> =>
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path]);

async function signed(
  dir: string,
  ca: CertPair,
  name: string,
  subject: string,
  ext: { serverAuth?: boolean; clientAuth?: boolean; sans?: string[] },
): Promise<CertPair> {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const extFile = join(dir, `${name}.ext`);
  const usages = [ext.serverAuth && 'serverAuth', ext.clientAuth && 'clientAuth'].filter(Boolean).join(',');
  const lines = [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    `extendedKeyUsage=${usages}`,
    'authorityKeyIdentifier=keyid',
  ];
  if (ext.sans?.length) lines.push(`subjectAltName=${ext.sans.join(',')}`);
  await writeFile(extFile, lines.join('\n') + '\n');
  await genKey(key);
  await openssl(['req', '-new', '-key', key, '-subj', subject, '-out', csr]);
  await openssl([
    'x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', `0x${randomBytes(12).toString('hex')}`,
    '-days', '3650', '-sha256', '-extfile', extFile, '-out', cert,
  ]);
  return { cert, key };
}

/** Writes the whole PKI into dir (which must exist); extraIps go into the API server's certificate. */
export async function generatePki(dir: string, nodes: string[], extraIps: string[] = [], clients: string[] = []): Promise<Pki> {
  const ca: CertPair = { cert: join(dir, 'ca.crt'), key: join(dir, 'ca.key') };
  await genKey(ca.key);
  await openssl([
    'req', '-x509', '-new', '-key', ca.key, '-subj', '/CN=safe-drain-local-ca', '-days', '3650', '-sha256',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
    '-out', ca.cert,
  ]);
  const serviceAccountKey = join(dir, 'sa.key');
  const serviceAccountPub = join(dir, 'sa.pub');
  const [apiserver, admin, controllerManager, scheduler, kubeletPairs, clientPairs] = await Promise.all([
    signed(dir, ca, 'apiserver', '/CN=kube-apiserver', {
      serverAuth: true,
      sans: [
        'IP:127.0.0.1', `IP:${FIRST_SERVICE_IP}`, 'DNS:localhost', 'DNS:kubernetes', 'DNS:kubernetes.default',
        'DNS:kubernetes.default.svc', 'DNS:kubernetes.default.svc.cluster.local', ...extraIps.map((ip) => `IP:${ip}`),
      ],
    }),
    signed(dir, ca, 'admin', '/O=system:masters/CN=kubernetes-admin', { clientAuth: true }),
    signed(dir, ca, 'kube-controller-manager', '/CN=system:kube-controller-manager', { clientAuth: true }),
    signed(dir, ca, 'kube-scheduler', '/CN=system:kube-scheduler', { clientAuth: true }),
    Promise.all(
      nodes.map(async (n) => [n, await signed(dir, ca, `kubelet-${n}`, `/O=system:nodes/CN=system:node:${n}`, { clientAuth: true })] as const),
    ),
    Promise.all(
      clients.map(async (n) => [n, await signed(dir, ca, `client-${n}`, `/O=system:masters/CN=${n}`, { clientAuth: true })] as const),
    ),
    genKey(serviceAccountKey).then(() => openssl(['pkey', '-in', serviceAccountKey, '-pubout', '-out', serviceAccountPub])),
  ]);
  return {
    dir, ca, apiserver, admin, controllerManager, scheduler, kubelets: Object.fromEntries(kubeletPairs),
    clients: Object.fromEntries(clientPairs),
    serviceAccountKey, serviceAccountPub,
  };
}
