/** The Kubernetes manifests and the Dockerfile agree with the code: ports, probe paths, admin binding and its token. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { configSchema } from '../../src/config/schema.js';
import { loadConfig } from '../../src/config/load.js';

const ROOT = join(import.meta.dirname, '..', '..');
const K8S = join(ROOT, 'deploy', 'kubernetes');
const DEFAULTS = configSchema.parse({}).gateway;

// Manifests are arbitrary nested YAML; the assertions below are the type check.
type Doc = Record<string, any>;

function manifests(): Array<{ file: string; doc: Doc }> {
  const out: Array<{ file: string; doc: Doc }> = [];
  for (const file of readdirSync(K8S).filter((f) => f.endsWith('.yaml'))) {
    for (const parsed of parseAllDocuments(readFileSync(join(K8S, file), 'utf8'))) {
      assert.deepEqual(
        parsed.errors.map((e) => e.message),
        [],
        `${file} parses`,
      );
      out.push({ file, doc: parsed.toJS() as Doc });
    }
  }
  return out;
}

function ofKind(kind: string): Doc {
  const found = manifests().filter((m) => m.doc.kind === kind);
  assert.equal(found.length, 1, `one ${kind}`);
  return (found[0] as { doc: Doc }).doc;
}

describe('deploy/kubernetes', () => {
  const deployment = ofKind('Deployment');
  const container = deployment.spec.template.spec.containers[0] as Doc;
  const portByName = new Map<string, number>(
    (container.ports as Doc[]).map((p) => [p.name as string, p.containerPort as number]),
  );
  const resolvePort = (port: string | number): number | undefined =>
    typeof port === 'number' ? port : portByName.get(port);

  test('every file is YAML with apiVersion, kind and a name', () => {
    const all = manifests();
    assert.ok(all.length >= 7);
    for (const { file, doc } of all) {
      assert.ok(doc.apiVersion && doc.kind, `${file}: apiVersion and kind`);
      if (doc.kind !== 'Kustomization') assert.ok(doc.metadata?.name, `${file}: metadata.name`);
    }
  });

  test('container ports are the code defaults: public 8080, admin 9901', () => {
    assert.equal(portByName.get('http'), DEFAULTS.listen.port);
    assert.equal(portByName.get('admin'), DEFAULTS.admin.port);
  });

  test('readiness probes /readyz and liveness /healthz, both on the admin port', () => {
    assert.equal(container.readinessProbe.httpGet.path, '/readyz');
    assert.equal(container.livenessProbe.httpGet.path, '/healthz');
    assert.equal(resolvePort(container.readinessProbe.httpGet.port), DEFAULTS.admin.port);
    assert.equal(resolvePort(container.livenessProbe.httpGet.port), DEFAULTS.admin.port);
  });

  test('the admin token and the Redis URL come from the Secret', () => {
    const env = new Map<string, Doc>((container.env as Doc[]).map((e) => [e.name as string, e]));
    assert.equal(env.get('EDGEWAY_ADMIN_TOKEN')?.valueFrom?.secretKeyRef?.key, 'admin-token');
    assert.equal(env.get('REDIS_URL')?.valueFrom?.secretKeyRef?.key, 'redis-url');
    const secret = ofKind('Secret');
    assert.ok(secret.stringData['admin-token'] && secret.stringData['redis-url']);
    assert.equal(
      env.get('EDGEWAY_ADMIN_TOKEN')?.valueFrom?.secretKeyRef?.name,
      secret.metadata.name,
    );
  });

  test('the ConfigMap is a valid edgeway config binding admin on 0.0.0.0 at the mounted EDGEWAY_CONFIG path', () => {
    const configMap = ofKind('ConfigMap');
    const dir = mkdtempSync(join(tmpdir(), 'edgeway-deploy-'));
    try {
      for (const [file, text] of Object.entries(configMap.data as Record<string, string>))
        writeFileSync(join(dir, file), text);
      const loaded = loadConfig(dir);
      assert.ok(loaded.ok, JSON.stringify(!loaded.ok && loaded.diagnostics));
      assert.equal(loaded.config.gateway.admin.host, '0.0.0.0');
      assert.equal(loaded.config.gateway.admin.port, DEFAULTS.admin.port);
      assert.equal(loaded.config.gateway.listen.port, DEFAULTS.listen.port);
      const grace = deployment.spec.template.spec.terminationGracePeriodSeconds as number;
      assert.ok(
        grace * 1000 > loaded.config.gateway.shutdownTimeout + 5000,
        'grace period covers preStop + drain',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const env = new Map<string, Doc>((container.env as Doc[]).map((e) => [e.name as string, e]));
    const mount = (container.volumeMounts as Doc[]).find(
      (m) => m.mountPath === env.get('EDGEWAY_CONFIG')?.value,
    );
    const volume = (deployment.spec.template.spec.volumes as Doc[]).find(
      (v) => v.name === mount?.name,
    );
    assert.equal(volume?.configMap?.name, configMap.metadata.name);
  });

  test('Service, PodDisruptionBudget and HorizontalPodAutoscaler point at the Deployment', () => {
    const labels = deployment.spec.template.metadata.labels as Record<string, string>;
    const service = ofKind('Service');
    for (const [k, v] of Object.entries(service.spec.selector as Record<string, string>))
      assert.equal(labels[k], v);
    assert.equal(resolvePort(service.spec.ports[0].targetPort), DEFAULTS.listen.port);
    assert.ok(
      !(service.spec.ports as Doc[]).some((p) => resolvePort(p.targetPort) === DEFAULTS.admin.port),
      'admin port stays off the Service',
    );
    const pdb = ofKind('PodDisruptionBudget');
    for (const [k, v] of Object.entries(pdb.spec.selector.matchLabels as Record<string, string>))
      assert.equal(labels[k], v);
    const hpa = ofKind('HorizontalPodAutoscaler');
    assert.equal(hpa.spec.scaleTargetRef.name, deployment.metadata.name);
    assert.ok(hpa.spec.minReplicas >= 2 && hpa.spec.minReplicas <= hpa.spec.maxReplicas);
  });

  test('the public Service is a LoadBalancer that keeps client IPs (externalTrafficPolicy: Local)', () => {
    const service = ofKind('Service');
    assert.equal(service.spec.type, 'LoadBalancer');
    assert.equal(
      service.spec.externalTrafficPolicy,
      'Local',
      'Cluster SNATs clients to node addresses, so rateLimit key: ip would see nodes',
    );
  });

  test('trustedProxies names no network wider than a /24 (the pod network would let any pod spoof X-Forwarded-For)', () => {
    const configMap = ofKind('ConfigMap');
    const gateway = (parseAllDocuments(configMap.data['gateway.yaml'] as string)[0]?.toJS() as Doc)
      .gateway as Doc;
    assert.ok(Array.isArray(gateway.trustedProxies), 'trustedProxies is set explicitly');
    for (const entry of gateway.trustedProxies as string[]) {
      const [address, bits] = entry.split('/');
      const max = (address as string).includes(':') ? 128 : 32;
      assert.ok(Number(bits ?? max) >= max - 8, `${entry} is wider than a /${max - 8}`);
    }
  });

  test('a NetworkPolicy opens the public port to all and the admin port only to named peers', () => {
    const policy = ofKind('NetworkPolicy');
    const labels = deployment.spec.template.metadata.labels as Record<string, string>;
    for (const [k, v] of Object.entries(
      policy.spec.podSelector.matchLabels as Record<string, string>,
    ))
      assert.equal(labels[k], v);
    assert.ok((policy.spec.policyTypes as string[]).includes('Ingress'));
    const rules = policy.spec.ingress as Doc[];
    const opens = (rule: Doc, port: number): boolean =>
      (rule.ports as Doc[] | undefined)?.some((p) => resolvePort(p.port) === port) ?? true;
    const admin = rules.filter((rule) => opens(rule, DEFAULTS.admin.port));
    assert.ok(admin.length > 0, 'something may scrape the admin port');
    for (const rule of admin)
      assert.ok(
        Array.isArray(rule.from) && rule.from.length > 0,
        'an admin rule without `from` opens it to everyone',
      );
    assert.ok(
      rules.some((rule) => opens(rule, DEFAULTS.listen.port) && rule.from === undefined),
      'the public port is open to all',
    );
  });

  test('the kustomization lists every manifest and pins the Deployment image in images:', () => {
    const kustomization = ofKind('Kustomization');
    const files = readdirSync(K8S).filter(
      (f) => f.endsWith('.yaml') && f !== 'kustomization.yaml' && !f.includes('.example.'),
    );
    assert.deepEqual([...(kustomization.resources as string[])].sort(), files.sort());
    const image = container.image as string;
    const name = image.slice(0, image.lastIndexOf(':'));
    const entry = (kustomization.images as Doc[] | undefined)?.find((i) => i.name === name);
    assert.ok(entry, `images: has an entry for ${name}`);
    assert.ok(entry.newTag || entry.digest, 'the entry sets a tag or digest');
  });

  test('the pod runs as the Dockerfile user, not root', () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    const uid = /--uid (\d+)/.exec(dockerfile)?.[1];
    assert.equal(deployment.spec.template.spec.securityContext.runAsUser, Number(uid));
    assert.equal(deployment.spec.template.spec.securityContext.runAsNonRoot, true);
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');

  test('two stages: npm ci + build, then npm ci --omit=dev with dist/', () => {
    assert.equal((dockerfile.match(/^FROM /gm) ?? []).length, 2);
    assert.match(dockerfile, /RUN npm ci[^\n]*\n[\s\S]*RUN npm run build/);
    assert.match(dockerfile, /npm ci --omit=dev/);
    assert.match(dockerfile, /COPY --from=build \/app\/dist \.\/dist/);
  });

  test('exposes the default ports, checks /healthz on the admin port, runs as a non-root user', () => {
    assert.match(
      dockerfile,
      new RegExp(`^EXPOSE ${DEFAULTS.listen.port} ${DEFAULTS.admin.port}$`, 'm'),
    );
    assert.match(
      dockerfile,
      new RegExp(`HEALTHCHECK[\\s\\S]*http://127\\.0\\.0\\.1:${DEFAULTS.admin.port}/healthz`),
    );
    const user = /^USER (\S+)$/m.exec(dockerfile)?.[1];
    assert.ok(user !== undefined && !user.startsWith('root') && !user.startsWith('0'));
    assert.match(dockerfile, /ENTRYPOINT \["edgeway"\]\nCMD \["start"\]/);
  });

  test('.dockerignore keeps node_modules, dist and local state out of the context', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim());
    for (const entry of ['node_modules', 'dist', '.data', '.git'])
      assert.ok(ignored.includes(entry), entry);
  });
});
