/*
 * How numbers and times read on the page: readings rounded to what a person can use (percent to
 * one decimal, milliseconds whole, bytes in KiB/MiB/GiB), durations, and relative times ("2m ago")
 * that keep ageing: they are rendered as <time data-rel> elements that refreshRelativeTimes()
 * rewrites on a timer, so "just now" does not stay "just now". No DOM access at import time, so
 * the Node tests can import this file too.
 */

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' })
const dateTimeFmt = new Intl.DateTimeFormat(undefined, {
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
})

export const fmtClock = (ms) => (Number.isFinite(ms) ? timeFmt.format(ms) : '—')
export const fmtTime = (iso) => fmtClock(Date.parse(iso))
export const fmtDateTime = (iso) => {
  const t = Date.parse(iso)
  return Number.isFinite(t) ? dateTimeFmt.format(t) : '—'
}

export function fmtDuration(ms) {
  const s = Math.round(ms / 1000)
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m ${s % 60}s`
  const h = Math.floor(m / 60)
  if (h < 48) return `${h}h ${m % 60}m`
  return `${Math.floor(h / 24)}d ${h % 24}h`
}

/** "just now", "45s ago", "3m 5s ago", "in 9m 40s"; '' for a missing time. */
export function fmtAgo(iso, now = Date.now()) {
  const t = typeof iso === 'number' ? iso : Date.parse(iso)
  if (!Number.isFinite(t)) return ''
  const s = Math.round((now - t) / 1000)
  if (s < 0) return `in ${fmtDuration(-s * 1000)}`
  if (s < 5) return 'just now'
  return `${fmtDuration(s * 1000)} ago`
}

export function fmtBytes(n) {
  if (!Number.isFinite(n)) return '—'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  let v = Math.abs(n)
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${n < 0 ? '-' : ''}${v >= 100 || i === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`
}

const isPercent = (u) => u === 'percent' || u === '%' || u === 'pct'
const isMs = (u) => u === 'ms' || u === 'milliseconds'

/** A reading as a person reads it: 97.3%, 142 ms, 1.25 s, 512 MiB, 3.2 /s. */
export function fmtValue(v, unit) {
  if (v === null || v === undefined || v === '' || !Number.isFinite(Number(v))) return '—'
  v = Number(v)
  const u = String(unit || '').toLowerCase()
  if (u === 'bytes' || u === 'b' || u === 'byte') return fmtBytes(v)
  if (isPercent(u)) return `${v.toFixed(1)}%`
  if (u === 'ratio') return `${(v * 100).toFixed(1)}%`
  if (isMs(u)) return v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${Math.round(v)} ms`
  if (u === 's' || u === 'seconds') return v < 1 ? `${Math.round(v * 1000)} ms` : `${v.toFixed(2)} s`
  if (u === 'bytes_per_second') return `${fmtBytes(v)}/s`
  if (u === 'errors_per_second') return `${v.toFixed(v >= 100 ? 0 : 1)} /s`
  const n = Math.abs(v) >= 100 || Number.isInteger(v) ? v.toFixed(0) : v.toFixed(2)
  return u ? `${n} ${unit}` : n
}

/** Axis ticks: whole numbers stay whole (0%, 25%, 100 ms). */
export function fmtAxis(v, unit) {
  const u = String(unit || '').toLowerCase()
  if (Number.isInteger(v) && isPercent(u)) return `${v}%`
  if (isMs(u) && v < 1000) return Number.isInteger(v) ? `${v} ms` : `${Number(v.toFixed(v < 1 ? 2 : 1))} ms`
  return fmtValue(v, unit)
}

/** The unit a metric's name implies: cpu_busy_percent -> percent, latency_ms -> ms, ..._bytes -> bytes. */
export function unitOfMetric(metric) {
  const m = String(metric || '')
  if (/(_percent|_pct)$/.test(m)) return 'percent'
  if (/_ms$/.test(m)) return 'ms'
  if (/_bytes_per_second$/.test(m)) return 'bytes_per_second'
  if (/_errors_per_second$/.test(m)) return 'errors_per_second'
  if (/_bytes$/.test(m)) return 'bytes'
  return ''
}

export const titleCase = (s) => String(s || '').replace(/_/g, ' ')
export const compactJson = (v) => {
  try {
    return JSON.stringify(v)
  } catch {
    return String(v)
  }
}

/** Action parameters for a person: byte sizes in MiB/GiB, the rest as key value. */
export function fmtParams(params) {
  const entries = Object.entries(params || {})
  if (!entries.length) return ''
  return entries
    .map(
      ([k, v]) =>
        `${k} ${/bytes$/i.test(k) && Number.isFinite(Number(v)) ? fmtBytes(Number(v)) : typeof v === 'object' ? compactJson(v) : String(v)}`,
    )
    .join(', ')
}

/**
 * A relative time that keeps ageing: a <time> element whose text refreshRelativeTimes() rewrites.
 * `prefix` goes before the relative part ("requested " + "2m ago").
 */
export function relTime(iso, prefix = '', attrs = {}) {
  const node = document.createElement('time')
  node.dateTime = typeof iso === 'string' ? iso : ''
  node.dataset.rel = typeof iso === 'string' ? iso : ''
  if (prefix) node.dataset.prefix = prefix
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v)
  node.title = fmtDateTime(iso)
  node.textContent = `${prefix}${fmtAgo(iso)}`
  return node
}

/** Rewrites every relative time under `root` (the whole page by default). */
export function refreshRelativeTimes(root = document) {
  const now = Date.now()
  for (const node of root.querySelectorAll('[data-rel]'))
    node.textContent = `${node.dataset.prefix || ''}${fmtAgo(node.dataset.rel, now)}`
}
