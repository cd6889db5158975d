/**
 * The observability stack files: the compose file validates with docker-compose, the Prometheus
 * configuration with promtool, and scripts/observability-local.sh really starts Debian's prometheus
 * and node exporter, scrapes a target, reports its status and stops only what it started.
 */
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { freePort, waitFor } from '../../../tests/helpers/ports'

const ROOT = path.resolve(import.meta.dirname, '../../..')
const SCRIPT = path.join(ROOT, 'scripts/observability-local.sh')

function run(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  )
}

/** Running and not a zombie (this container's PID 1 reaps orphans late). */
const alive = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2] !== 'Z'
  } catch {
    return false
  }
}

describe('docker-compose.observability.yml', () => {
  it('validates with docker-compose and declares the whole stack', async () => {
    const file = path.join(ROOT, 'docker-compose.observability.yml')
    const check = await run('docker-compose', ['-f', file, 'config', '-q'])
    assert.equal(check.code, 0, check.stderr)
    const services = await run('docker-compose', ['-f', file, 'config', '--services'])
    assert.deepEqual(services.stdout.trim().split('\n').sort(), [
      'cadvisor',
      'grafana',
      'jaeger',
      'node-exporter',
      'prometheus',
    ])

    const resolved = (await run('docker-compose', ['-f', file, 'config'])).stdout
    assert.match(resolved, /COLLECTOR_OTLP_ENABLED: "?true"?/)
    for (const port of ['16686', '4317', '4318']) assert.match(resolved, new RegExp(`127\\.0\\.0\\.1:${port}:${port}`))
    // Every bind mount of the repository's files points at something that exists.
    for (const rel of [
      'observability/prometheus.yml',
      'observability/grafana/provisioning',
      'observability/grafana/dashboards',
    ]) {
      assert.ok(resolved.includes(path.join(ROOT, rel)), `${rel} is mounted`)
      assert.ok(existsSync(path.join(ROOT, rel)), `${rel} exists`)
    }
    assert.ok(existsSync(path.join(ROOT, 'observability/grafana/dashboards/sentinel.json')))
  })

  it('has a Prometheus configuration promtool accepts, scraping Sentinel and both exporters', async () => {
    const cfg = path.join(ROOT, 'observability/prometheus.yml')
    const check = await run('promtool', ['check', 'config', cfg])
    assert.equal(check.code, 0, check.stdout + check.stderr)
    const text = readFileSync(cfg, 'utf8')
    for (const job of ['sentinel', 'node-exporter', 'cadvisor']) assert.match(text, new RegExp(`job_name: ${job}\\b`))
  })

  it('provisions a Prometheus datasource with the uid the dashboard uses', () => {
    const ds = readFileSync(path.join(ROOT, 'observability/grafana/provisioning/datasources/prometheus.yml'), 'utf8')
    const uid = /uid:\s*(\S+)/.exec(ds)?.[1]
    assert.ok(uid)
    const dashboard = JSON.parse(
      readFileSync(path.join(ROOT, 'observability/grafana/dashboards/sentinel.json'), 'utf8'),
    ) as { panels: { datasource?: { uid: string } }[] }
    const uids = new Set(dashboard.panels.filter((p) => p.datasource).map((p) => p.datasource!.uid))
    assert.deepEqual([...uids], [uid])
  })
})

describe('scripts/observability-local.sh', () => {
  let dir: string
  let env: Record<string, string>
  let target: http.Server
  let promPort: number

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-obs-local-'))
    // Stands in for Sentinel's /metrics.
    target = http.createServer((_req, res) =>
      res
        .writeHead(200, { 'content-type': 'text/plain; version=0.0.4' })
        .end('# TYPE sentinel_test_up gauge\nsentinel_test_up 1\n'),
    )
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r))
    promPort = await freePort()
    env = {
      OBS_DATA_DIR: dir,
      OBS_PROMETHEUS_PORT: String(promPort),
      OBS_NODE_EXPORTER_PORT: String(await freePort()),
      OBS_SENTINEL_TARGET: `127.0.0.1:${(target.address() as AddressInfo).port}`,
      OBS_SCRAPE_INTERVAL: '1s',
    }
  })
  after(async () => {
    // Whatever happened, stop what the script started.
    await run('bash', [SCRIPT, 'stop'], env)
    target.closeAllConnections()
    await new Promise((r) => target.close(r))
    rmSync(dir, { recursive: true, force: true })
  })

  it('starts, scrapes, reports its status and stops', async () => {
    const start = await run('bash', [SCRIPT, 'start'], env)
    assert.equal(start.code, 0, start.stdout + start.stderr)
    const pids = ['prometheus', 'node-exporter'].map((n) => Number(readFileSync(path.join(dir, `${n}.pid`), 'utf8')))
    for (const pid of pids) assert.ok(alive(pid))

    const status = await run('bash', [SCRIPT, 'status'], env)
    assert.equal(status.code, 0, status.stdout)
    assert.match(status.stdout, /prometheus: running .*answering/)
    assert.match(status.stdout, /node-exporter: running .*answering/)

    const nodeMetrics = await (await fetch(`http://127.0.0.1:${env.OBS_NODE_EXPORTER_PORT}/metrics`)).text()
    assert.match(nodeMetrics, /^node_cpu_seconds_total\{/m)
    // Prometheus scrapes the Sentinel target and the node exporter.
    const promUrl = `http://127.0.0.1:${promPort}`
    await waitFor(
      async () => {
        const r = (await (
          await fetch(
            `${promUrl}/api/v1/query?query=${encodeURIComponent('sentinel_test_up * on() group_left() max(up{job="node-exporter"})')}`,
          )
        ).json()) as { data: { result: { value: [number, string] }[] } }
        return r.data.result[0]?.value[1] === '1'
      },
      { timeoutMs: 30_000, intervalMs: 250, what: 'prometheus scraping both targets' },
    )
    assert.ok(existsSync(path.join(dir, 'prometheus', 'wal')), 'the data lives in OBS_DATA_DIR')

    const again = await run('bash', [SCRIPT, 'start'], env)
    assert.equal(again.code, 0)
    assert.match(again.stdout, /already running/)

    const stop = await run('bash', [SCRIPT, 'stop'], env)
    assert.equal(stop.code, 0, stop.stderr)
    await waitFor(() => pids.every((p) => !alive(p)), { timeoutMs: 15_000, what: 'the stack to exit' })
    const after = await run('bash', [SCRIPT, 'status'], env)
    assert.equal(after.code, 3)
    assert.match(after.stdout, /prometheus: stopped/)
  })

  it('stop leaves alone a process whose PID is in a PID file but that it did not start', async () => {
    const stranger = spawn('sleep', ['60'], { stdio: 'ignore' })
    try {
      writeFileSync(path.join(dir, 'prometheus.pid'), String(stranger.pid))
      const stop = await run('bash', [SCRIPT, 'stop'], env)
      assert.equal(stop.code, 0, stop.stderr)
      assert.match(stop.stdout, /prometheus not running/)
      assert.ok(alive(stranger.pid!), 'the unrelated process still runs')
    } finally {
      stranger.kill('SIGKILL')
    }
  })

  it('rejects bad settings before starting anything', async () => {
    const bad = await run('bash', [SCRIPT, 'start'], { ...env, OBS_PROMETHEUS_PORT: '90; rm -rf /' })
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /OBS_PROMETHEUS_PORT must be a port number/)
    assert.ok(
      !existsSync(path.join(dir, 'prometheus.pid')) ||
        !alive(Number(readFileSync(path.join(dir, 'prometheus.pid'), 'utf8'))),
    )
  })
})
