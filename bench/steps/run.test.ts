/** The step bench runs end to end (a short run): both modes resolve real incidents and every traced run exports its spans. */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import path from 'node:path'
import { it } from 'node:test'

it('measures a step with and without tracing and reports the machine', async () => {
  const root = path.resolve(import.meta.dirname, '../..')
  const stdout = await new Promise<string>((resolve, reject) =>
    execFile(
      process.execPath,
      ['--import', 'tsx', path.join(import.meta.dirname, 'run.ts'), '--runs', '1', '--json'],
      { cwd: root, timeout: 120_000 },
      (err, out, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(out)),
    ),
  )
  const r = JSON.parse(stdout.trim().split('\n').pop()!)
  assert.equal(r.runs, 1)
  assert.equal(r.spans.received, r.spans.expected)
  assert.ok(r.spans.expected > 0)
  for (const mode of [r.off, r.on]) {
    assert.ok(mode.wallMedianMs > 0 && mode.handlerMedianMs > 0)
    assert.ok(mode.wallMedianMs >= mode.handlerMedianMs)
  }
  assert.ok(r.ratio.wall > 0 && Number.isFinite(r.ratio.wall))
  assert.ok(r.machine.cores >= 1 && r.machine.cpu && r.machine.node === process.version)
})
