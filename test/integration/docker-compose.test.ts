// docker-compose.yml is for users with Docker; no engine runs here, so the test validates the file
// with the real docker-compose (which needs no engine for `config`) and checks that what it sets for
// the service is what the service reads, and that every address points at a service listening there.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { describeOptions, loadConfig } from '../../src/config/index.js';
import { repoRoot } from '../../bench/local-stack.js';

interface ComposeService {
  image?: string;
  command?: string[];
  profiles?: string[];
  build?: unknown;
  environment?: Record<string, string | number | boolean | null>;
  ports?: string[];
  volumes?: string[];
}

interface ComposeFile {
  services: Record<string, ComposeService>;
}

/** The file as docker-compose resolves it (interpolated, normalised). */
function resolvedCompose(): ComposeFile {
  const out = execFileSync('docker-compose', ['-f', 'docker-compose.yml', '--profile', 'simulator', 'config'], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { ...process.env, CLICKHOUSE_PASSWORD: 'test-secret' },
  });
  return parse(out) as ComposeFile;
}

function env(service: ComposeService): Record<string, string> {
  return Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, String(v ?? '')]));
}

function hostPort(address: string): { host: string; port: number } {
  const url = /^[a-z]+:\/\//.test(address) ? new URL(address) : new URL(`tcp://${address}`);
  return { host: url.hostname, port: Number(url.port) };
}

/** Ports a Kafka service listens on, from KAFKA_LISTENERS (NAME://host:port,...). */
function kafkaListenerPorts(service: ComposeService): number[] {
  return (env(service).KAFKA_LISTENERS ?? '').split(',').map((listener) => Number(listener.split(':').pop()));
}

describe('docker-compose.yml', () => {
  test('is valid for docker-compose (config -q)', () => {
    execFileSync('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q'], { cwd: repoRoot, stdio: 'pipe' });
    execFileSync('docker-compose', ['-f', 'docker-compose.yml', '--profile', 'simulator', 'config', '-q'], {
      cwd: repoRoot,
      stdio: 'pipe',
    });
  });

  const compose = resolvedCompose();
  const services = compose.services;
  const agentwatch = services.agentwatch;

  test('runs Kafka, a schema registry, ClickHouse, Grafana and the service built from the Dockerfile', () => {
    for (const name of ['kafka', 'schema-registry', 'clickhouse', 'grafana', 'agentwatch', 'prometheus']) {
      assert.ok(services[name], `service ${name} is missing`);
    }
    assert.ok(agentwatch?.build, 'the agentwatch service is built from the repository Dockerfile');
    assert.match(
      readFileSync(join(repoRoot, 'Dockerfile'), 'utf8'),
      /ENTRYPOINT \["node", "dist\/src\/cli\/main.js"\]/,
    );
    assert.match(env(services.grafana!).GF_INSTALL_PLUGINS ?? '', /grafana-clickhouse-datasource/);
  });

  test('sets only variables the service reads, and they form a valid configuration', () => {
    const known = new Set(describeOptions().map((o) => o.name));
    const vars = env(agentwatch!);
    for (const name of Object.keys(vars)) {
      assert.ok(known.has(name), `docker-compose sets ${name} for agentwatch, but agentwatch does not read it`);
    }
    const config = loadConfig(vars);
    assert.equal(
      config.clickhouse.password,
      'test-secret',
      'CLICKHOUSE_PASSWORD is passed through from the environment',
    );
  });

  test("the service's addresses name compose services on the ports they listen on", () => {
    const vars = env(agentwatch!);
    for (const broker of (vars.KAFKA_BROKERS ?? '').split(',')) {
      const { host, port } = hostPort(broker);
      assert.ok(services[host], `KAFKA_BROKERS names ${host}, which is not a compose service`);
      assert.ok(kafkaListenerPorts(services[host]!).includes(port), `kafka does not listen on ${port}`);
      assert.match(
        env(services[host]!).KAFKA_ADVERTISED_LISTENERS ?? '',
        new RegExp(`//${host}:${port}(,|$)`),
        `kafka must advertise ${host}:${port}`,
      );
    }
    const registry = hostPort(vars.SCHEMA_REGISTRY_URL ?? '');
    assert.ok(services[registry.host], `SCHEMA_REGISTRY_URL names ${registry.host}, which is not a compose service`);
    assert.equal(hostPort(env(services[registry.host]!).SCHEMA_REGISTRY_LISTENERS ?? '').port, registry.port);

    const clickhouse = hostPort(vars.CLICKHOUSE_URL ?? '');
    const chService = services[clickhouse.host];
    assert.ok(chService, `CLICKHOUSE_URL names ${clickhouse.host}, which is not a compose service`);
    assert.equal(clickhouse.port, 8123, 'the ClickHouse server image serves HTTP on 8123');
    const chEnv = env(chService);
    assert.equal(chEnv.CLICKHOUSE_USER, vars.CLICKHOUSE_USER);
    assert.equal(chEnv.CLICKHOUSE_PASSWORD, vars.CLICKHOUSE_PASSWORD);
    assert.equal(chEnv.CLICKHOUSE_DB, vars.CLICKHOUSE_DATABASE);

    for (const url of (vars.ALERTMANAGER_URLS ?? '').split(',').filter((u) => u !== '')) {
      const am = hostPort(url);
      const amService = services[am.host];
      assert.ok(amService, `ALERTMANAGER_URLS names ${am.host}, which is not a compose service`);
      const listen = /--web\.listen-address=\S*:(\d+)/.exec((amService.command ?? []).join(' '))?.[1] ?? '9093';
      assert.equal(am.port, Number(listen), `alertmanager listens on ${listen}`);
    }
  });

  test("Alertmanager's mounted configuration is valid (amtool check-config)", () => {
    const am = services.alertmanager;
    assert.ok(am, 'an alertmanager service');
    const mount = (am.volumes ?? []).find((v) => v.endsWith(':/etc/alertmanager/alertmanager.yml:ro'));
    assert.ok(mount, 'its configuration is mounted from the repository');
    const source = mount.split(':')[0]!; // absolute once docker-compose resolved the file
    const file = isAbsolute(source) ? source : join(repoRoot, source);
    const checked = spawnSync('amtool', ['check-config', file], { encoding: 'utf8' });
    assert.equal(checked.status, 0, `${checked.stdout}${checked.stderr}`);
    assert.match(checked.stdout, /SUCCESS/);
  });

  test("Grafana's ClickHouse data source points at the same server, user and database", () => {
    const datasources = parse(
      readFileSync(join(repoRoot, 'grafana/provisioning/datasources/agentwatch.yml'), 'utf8'),
    ) as {
      datasources: Array<{ type: string; jsonData: Record<string, unknown>; secureJsonData: Record<string, string> }>;
    };
    const clickhouse = datasources.datasources.find((d) => d.type === 'grafana-clickhouse-datasource');
    assert.ok(clickhouse, 'a grafana-clickhouse-datasource is provisioned');
    const vars = env(agentwatch!);
    const server = hostPort(vars.CLICKHOUSE_URL ?? '');
    assert.equal(clickhouse.jsonData.host, server.host);
    assert.equal(clickhouse.jsonData.port, server.port);
    assert.equal(clickhouse.jsonData.protocol, 'http');
    assert.equal(clickhouse.jsonData.username, vars.CLICKHOUSE_USER);
    assert.equal(clickhouse.jsonData.defaultDatabase, vars.CLICKHOUSE_DATABASE);
    // The password reaches Grafana through its own environment, from the same variable.
    assert.equal(clickhouse.secureJsonData.password, '$CLICKHOUSE_PASSWORD');
    assert.equal(env(services.grafana!).CLICKHOUSE_PASSWORD, vars.CLICKHOUSE_PASSWORD);
  });

  test('publishes host ports on 127.0.0.1 only', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const port of service.ports ?? []) {
        const published = typeof port === 'string' ? port : JSON.stringify(port);
        assert.match(published, /127\.0\.0\.1/, `${name} publishes ${published} beyond loopback`);
      }
    }
  });

  test('Prometheus scrapes the service on its API port, and Grafana reads that Prometheus', () => {
    const vars = env(agentwatch!);
    const config = parse(readFileSync(join(repoRoot, 'grafana/prometheus/prometheus.yml'), 'utf8')) as {
      scrape_configs: Array<{ job_name: string; metrics_path?: string; static_configs: Array<{ targets: string[] }> }>;
    };
    const job = config.scrape_configs.find((j) => j.job_name === 'agentwatch');
    assert.ok(job, 'a scrape job for agentwatch');
    assert.equal(job.metrics_path ?? '/metrics', '/metrics');
    assert.deepEqual(
      job.static_configs.flatMap((c) => c.targets),
      [`agentwatch:${vars.API_PORT}`],
    );
    assert.equal(
      loadConfig(vars).api.metricsPublic,
      true,
      'the scrape job has no key, so /metrics is public on the compose network',
    );
    assert.ok(
      (services.prometheus!.volumes ?? []).some((v) =>
        String(typeof v === 'string' ? v : JSON.stringify(v)).includes('prometheus.yml'),
      ),
      'the config is mounted',
    );
    const datasources = parse(
      readFileSync(join(repoRoot, 'grafana/provisioning/datasources/agentwatch.yml'), 'utf8'),
    ) as { datasources: Array<{ type: string; uid: string; url?: string }> };
    const prometheus = datasources.datasources.find((d) => d.type === 'prometheus');
    assert.equal(prometheus?.url, 'http://prometheus:9090');
    // Every data source a dashboard uses is provisioned under that uid.
    const uids = new Set(datasources.datasources.map((d) => d.uid));
    for (const file of ['fleet-overview.json', 'audit-explorer.json']) {
      const used = [...readFileSync(join(repoRoot, 'grafana/dashboards', file), 'utf8').matchAll(/"uid": "([^"]+)"/g)]
        .map((m) => m[1]!)
        .filter(
          (uid) =>
            uid.startsWith('agentwatch-') && !uid.startsWith('agentwatch-fleet') && !uid.startsWith('agentwatch-audit'),
        );
      for (const uid of used) assert.ok(uids.has(uid), `${file} uses data source ${uid}, which is not provisioned`);
    }
  });

  test('the simulator profile runs `agentwatch simulate` from the same image with a valid configuration', () => {
    const simulator = services.simulator;
    assert.ok(simulator, 'a simulator service');
    assert.deepEqual(simulator.profiles, ['simulator']);
    assert.equal(simulator.image, agentwatch!.image);
    assert.equal(simulator.command?.[0], 'simulate');
    const vars = env(simulator);
    const known = new Set(describeOptions().map((o) => o.name));
    for (const name of Object.keys(vars))
      assert.ok(known.has(name), `the simulator gets ${name}, which agentwatch does not read`);
    assert.equal(loadConfig(vars).kafka.brokers.join(','), env(agentwatch!).KAFKA_BROKERS);
  });
});
