// TLS and mTLS on `meshlet control`, with a throwaway CA the test makes with openssl (node:crypto
// cannot issue X.509 certificates). Tokens are still required over TLS.
import * as grpc from '@grpc/grpc-js';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, controlClient, RawAgent, startControl, type RunningControl } from '../helpers/control-plane.ts';
import { until } from '../helpers/until.ts';

/** The certificates come from openssl; without it on the machine these tests cannot run. */
const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

let dir: string;
const running: RunningControl[] = [];

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A CA and a leaf signed by it, for 127.0.0.1 (server) or a client. */
function issue(ca: string, leaf: string, san: string | undefined): void {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${ca}.key`, '-out', `${ca}.crt`, '-days', '1', '-subj', `/CN=${ca}`]);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${leaf}.key`, '-out', `${leaf}.csr`, '-subj', `/CN=${leaf}`]);
  const ext = join(dir, `${leaf}.ext`);
  execFileSync('sh', ['-c', `printf '%s\\n' "${san ? `subjectAltName=${san}` : 'extendedKeyUsage=clientAuth'}" > ${ext}`]);
  openssl(['x509', '-req', '-in', `${leaf}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${leaf}.crt`, '-days', '1', '-extfile', ext]);
}

const file = (name: string) => readFile(join(dir, name));

beforeAll(async () => {
  if (!hasOpenssl) return;
  dir = await mkdtemp(join(tmpdir(), 'meshlet-tls-'));
  issue('server-ca', 'server', 'IP:127.0.0.1');
  issue('client-ca', 'client', undefined);
  issue('other-ca', 'intruder', undefined);
});

afterAll(async () => {
  for (const control of running) await control.stop('SIGTERM', true);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.runIf(hasOpenssl)('meshlet control over TLS', () => {
  it('serves TLS with --tls-cert/--tls-key: a client trusting the CA is served, a plaintext client is not', async () => {
    const control = await startControl({ args: ['--tls-cert', join(dir, 'server.crt'), '--tls-key', join(dir, 'server.key')] });
    running.push(control);
    expect(control.logs().find((l) => l.msg === 'control ready')).toMatchObject({ tls: 'tls' });
    const secure = controlClient(control.address, grpc.credentials.createSsl(await file('server-ca.crt')));
    expect((await call(secure, 'GetPolicy', {})).version).toBe(0);
    // The token is still checked over TLS.
    await expect(call(secure, 'GetPolicy', {}, null)).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    const plain = controlClient(control.address);
    await expect(call(plain, 'GetPolicy', {})).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    secure.close();
    plain.close();
  });

  it('requires a client certificate from --tls-client-ca (mTLS)', async () => {
    const control = await startControl({ args: ['--tls-cert', join(dir, 'server.crt'), '--tls-key', join(dir, 'server.key'), '--tls-client-ca', join(dir, 'client-ca.crt')] });
    running.push(control);
    expect(control.logs().find((l) => l.msg === 'control ready')).toMatchObject({ tls: 'mtls' });
    const ca = await file('server-ca.crt');
    const withCert = controlClient(control.address, grpc.credentials.createSsl(ca, await file('client.key'), await file('client.crt')));
    expect((await call(withCert, 'GetPolicy', {})).version).toBe(0);
    const agent = new RawAgent(withCert).hello('mtls-agent');
    await until(async () => (await call(withCert, 'ListAgents', {})).agents.some((a) => a.node === 'mtls-agent' && a.connected), 10_000, 'agent over mTLS');
    agent.close();

    const noCert = controlClient(control.address, grpc.credentials.createSsl(ca));
    await expect(call(noCert, 'GetPolicy', {})).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    const otherCa = controlClient(control.address, grpc.credentials.createSsl(ca, await file('intruder.key'), await file('intruder.crt')));
    await expect(call(otherCa, 'GetPolicy', {})).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    for (const c of [withCert, noCert, otherCa]) c.close();
  });

  it('refuses to start with --tls-cert but no --tls-key, or with a key file that is not there', async () => {
    await expect(startControl({ args: ['--tls-cert', join(dir, 'server.crt')] })).rejects.toThrow(/--tls-cert and --tls-key go together/);
    await expect(startControl({ args: ['--tls-cert', join(dir, 'server.crt'), '--tls-key', join(dir, 'missing.key')] })).rejects.toThrow(/missing\.key/);
  });
});
