/**
 * Evidence records for the fault rules' tests: a plain record with the parts a case needs, so each
 * test states its facts (a dead container, a log line, a series) and nothing else.
 */
import type { Evidence, Point } from '../../evidence/types'

type Container = NonNullable<Evidence['container']>

export const MiB = 1024 * 1024
export const T0 = Date.parse('2025-01-01T00:00:00Z')

export function record(over: Partial<Omit<Evidence, 'alert'>> & { alert?: Partial<Evidence['alert']> } = {}): Evidence {
  const { alert, ...rest } = over
  return {
    version: 1,
    gatheredAt: new Date(T0).toISOString(),
    alert: {
      type: 'container_down',
      metric: 'container_down',
      value: null,
      threshold: null,
      resource: { kind: 'container', id: 'c'.repeat(64), name: 'web' },
      at: new Date(T0).toISOString(),
      thisHost: true,
      ...alert,
    },
    problems: [],
    ...rest,
  }
}

export function container(over: Partial<Container> = {}): Container {
  return {
    id: 'c'.repeat(64),
    name: 'web',
    exists: true,
    image: 'app:1',
    running: false,
    status: 'exited',
    exitCode: 1,
    oomKilled: false,
    restartCount: 0,
    startedAt: new Date(T0 - 600_000).toISOString(),
    finishedAt: new Date(T0).toISOString(),
    memoryLimitBytes: 0,
    ...over,
  }
}

export const logs = (...lines: string[]): NonNullable<Evidence['logs']> => ({
  lines,
  errorLines: [],
  linesRead: lines.length,
})

/** `values` one a minute, ending at T0. */
export function points(values: number[], stepMs = 60_000): Point[] {
  return values.map((v, i) => [T0 - (values.length - 1 - i) * stepMs, v])
}
