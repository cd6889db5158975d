/** What both SSE benches share: quantiles, formatting and a description of the machine. */
import { readFileSync } from 'node:fs'
import os from 'node:os'

export const nowMs = () => performance.timeOrigin + performance.now()
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
export const quantile = (xs: number[], q: number) => {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const pos = (s.length - 1) * q
  const lo = Math.floor(pos)
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (pos - lo)
}
export const mib = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MiB`
export const ms = (x: number) => `${x.toFixed(2)} ms`
export const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`)
  const v = i > 0 ? Number(process.argv[i + 1]) : NaN
  return Number.isFinite(v) && v > 0 ? v : fallback
}

export function fdLimit(): string {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'))
    return line
      ? line
          .split(/\s{2,}/)
          .slice(1, 3)
          .join(' / ')
      : 'unknown'
  } catch {
    return 'unknown'
  }
}

export function machine() {
  const cpus = os.cpus()
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    memory: mib(os.totalmem()),
    fdLimit: fdLimit(),
  }
}
