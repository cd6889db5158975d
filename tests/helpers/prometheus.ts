/**
 * For tests: Debian's real prometheus, prometheus-node-exporter and prometheus-alertmanager on
 * free ports of 127.0.0.1, each with its own temp directory, stopped and removed by `stop()`.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { freePort, waitFor } from './ports'

export interface ManagedProcess {
  port: number
  url: string
  dir: string
  output(): string
  /** SIGTERM (SIGKILL after 5 s) and wait; keeps the directory. */
  kill(): Promise<void>
  /** Starts it again with the same port and directory. */
  restart(): Promise<void>
  /** kill() and remove the directory. */
  stop(): Promise<void>
}

const live = new Set<ChildProcess>()
// A test that crashes still takes its daemons with it.
process.once('exit', () => {
  for (const p of live) {
    try {
      p.kill('SIGKILL')
    } catch {}
  }
})

async function manage(
  what: string,
  bin: string,
  args: (port: number, dir: string) => string[],
  readyPath: string,
  setup?: (dir: string, port: number) => void,
): Promise<ManagedProcess> {
  const port = await freePort()
  const dir = mkdtempSync(path.join(os.tmpdir(), `sentinel-test-${what}-`))
  setup?.(dir, port)
  let proc: ChildProcess
  let out = ''
  const url = `http://127.0.0.1:${port}`
  const launch = async () => {
    proc = spawn(bin, args(port, dir), { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir })
    live.add(proc)
    proc.once('exit', () => live.delete(proc))
    proc.stdout!.on('data', (d) => (out = (out + d).slice(-20_000)))
    proc.stderr!.on('data', (d) => (out = (out + d).slice(-20_000)))
    await waitFor(
      async () => {
        if (proc.exitCode !== null) throw new Error(`${what} exited with ${proc.exitCode}: ${out.slice(-2000)}`)
        const res = await fetch(url + readyPath, { signal: AbortSignal.timeout(1000) })
        await res.arrayBuffer()
        return res.ok
      },
      { timeoutMs: 30_000, intervalMs: 100, what: `${what} on ${port}` },
    )
  }
  const kill = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return
    const exited = new Promise((r) => proc.once('exit', r))
    proc.kill('SIGTERM')
    const t = setTimeout(() => proc.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(t)
  }
  await launch()
  return {
    port,
    url,
    dir,
    output: () => out,
    kill,
    restart: launch,
    async stop() {
      await kill()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

export function startNodeExporter(): Promise<ManagedProcess> {
  return manage(
    'node-exporter',
    'prometheus-node-exporter',
    (port) => [
      `--web.listen-address=127.0.0.1:${port}`,
      // Only what the checks use: quicker scrapes on a shared machine.
      '--collector.disable-defaults',
      '--collector.cpu',
      '--collector.meminfo',
      '--collector.filesystem',
      '--collector.netdev',
    ],
    '/metrics',
  )
}

export interface PrometheusSetup {
  scrapeTargets: string[]
  /** Rule file content (YAML), if any. */
  rules?: string
  alertmanager?: string
  /** Default 1s. */
  interval?: string
  /** More scrape jobs besides `node` (Sentinel's own /metrics, say). */
  jobs?: Array<{ name: string; targets: string[] }>
}

export function startPrometheus(setup: PrometheusSetup): Promise<ManagedProcess> {
  const interval = setup.interval ?? '1s'
  return manage(
    'prometheus',
    'prometheus',
    (port, dir) => [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
      // The first alerts go out before the Alertmanager is discovered and are dropped; without
      // this they would be sent again only a minute later.
      '--rules.alert.resend-delay=1s',
    ],
    '/-/ready',
    (dir) => {
      const lines = [
        'global:',
        `  scrape_interval: ${interval}`,
        `  evaluation_interval: ${interval}`,
        'scrape_configs:',
        '  - job_name: node',
        '    static_configs:',
        `      - targets: [${setup.scrapeTargets.map((t) => JSON.stringify(t)).join(', ')}]`,
      ]
      for (const job of setup.jobs ?? []) {
        lines.push(
          `  - job_name: ${JSON.stringify(job.name)}`,
          '    static_configs:',
          `      - targets: [${job.targets.map((t) => JSON.stringify(t)).join(', ')}]`,
        )
      }
      if (setup.rules !== undefined) {
        writeFileSync(path.join(dir, 'rules.yml'), setup.rules)
        lines.push('rule_files:', `  - ${JSON.stringify(path.join(dir, 'rules.yml'))}`)
      }
      if (setup.alertmanager) {
        lines.push(
          'alerting:',
          '  alertmanagers:',
          '    - static_configs:',
          `        - targets: [${JSON.stringify(setup.alertmanager)}]`,
        )
      }
      writeFileSync(path.join(dir, 'prometheus.yml'), lines.join('\n') + '\n')
    },
  )
}

export function startAlertmanager(webhookUrl: string): Promise<ManagedProcess> {
  return manage(
    'alertmanager',
    'prometheus-alertmanager',
    (port, dir) => [
      `--config.file=${path.join(dir, 'alertmanager.yml')}`,
      `--storage.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      // No cluster: it would listen on 0.0.0.0:9094 and gossip.
      '--cluster.listen-address=',
      '--log.level=warn',
    ],
    '/-/ready',
    (dir) => {
      writeFileSync(
        path.join(dir, 'alertmanager.yml'),
        [
          'route:',
          '  receiver: sentinel',
          '  group_by: [alertname]',
          '  group_wait: 0s',
          '  group_interval: 1s',
          '  repeat_interval: 1h',
          'receivers:',
          '  - name: sentinel',
          '    webhook_configs:',
          `      - url: ${JSON.stringify(webhookUrl)}`,
          '        send_resolved: true',
          '',
        ].join('\n'),
      )
    },
  )
}
