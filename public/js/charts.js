/*
 * The live charts (CPU, memory, disk, latency). On page open the last hour of readings comes from
 * GET /api/readings/recent and is drawn at once; the stream's `metrics` events (the monitor's
 * ticks, every two minutes by default) and `sample` events (the live sampler's host and container
 * figures, every LIVE_SAMPLE_SECONDS, with the same series keys) then extend each series. Points of a series are joined by lines: a line breaks only over a real gap (no reading
 * for five times the series' usual interval, and at least five minutes), so the default schedule
 * of a reading every two minutes draws lines, not lone dots. Drawn on a <canvas>, no library.
 */
import { api } from './api.js'
import { $, clear, el } from './dom.js'
import { fmtAxis, fmtClock, fmtValue } from './format.js'
import { scheduleCards } from './containers.js'
import { state } from './state.js'

/** Which chart a reading's metric goes on. */
export const CHART_OF = {
  cpu_busy_percent: 'cpu',
  container_cpu_percent: 'cpu',
  memory_used_percent: 'memory',
  container_memory_percent: 'memory',
  disk_used_percent: 'disk',
  latency_ms: 'latency',
}
const METRICS = ['cpu', 'memory', 'disk', 'latency']
/** Points kept in the page: the hour the server keeps, plus a margin. */
const KEEP_MS = 65 * 60 * 1000
const MAX_POINTS = 4000
const PALETTE = [
  '#4da3ff',
  '#2fbf71',
  '#f0b429',
  '#ef4d56',
  '#b48cff',
  '#3dd6d0',
  '#ff8f5a',
  '#e66bc1',
  '#9bd35a',
  '#c9ced6',
]
const MIN_GAP_MS = 5 * 60 * 1000

const chartOf = (metric) => CHART_OF[metric] || (METRICS.includes(metric) ? metric : null)

function seriesEntry(key, chart, unit, resource) {
  let s = state.series.get(key)
  if (!s) {
    s = { key, metric: chart, unit, resource: resource || {}, points: [] }
    state.series.set(key, s)
  }
  if (unit) s.unit = unit
  if (resource) s.resource = resource
  return s
}

/** Adds one point in time order; the same time twice keeps one point. */
function addPoint(s, t, v) {
  const pts = s.points
  const last = pts[pts.length - 1]
  if (!last || last.t < t) pts.push({ t, v })
  else if (last.t === t) last.v = v
  else {
    let i = pts.length - 1
    while (i >= 0 && pts[i].t > t) i--
    if (i >= 0 && pts[i].t === t) pts[i].v = v
    else pts.splice(i + 1, 0, { t, v })
  }
}

function trim(s) {
  const cutoff = Date.now() - KEEP_MS
  let drop = 0
  while (drop < s.points.length && s.points[drop].t < cutoff) drop++
  if (s.points.length - drop > MAX_POINTS) drop = s.points.length - MAX_POINTS
  if (drop) s.points.splice(0, drop)
}

/** Readings from the stream (`metrics`) or the status API: chart points, and container card figures. */
export function onMetrics(data) {
  const readings = data && Array.isArray(data.readings) ? data.readings : []
  let cards = false
  for (const raw of readings) {
    if (!raw || raw.value === null || raw.value === undefined || !Number.isFinite(Number(raw.value))) continue
    const resource = raw.resource || {}
    const value = Number(raw.value)
    if (resource.kind === 'container') {
      const c = state.containers.get(String(resource.name || resource.id))
      if (c && (raw.metric === 'container_cpu_percent' || (raw.metric === 'cpu' && raw.unit === 'percent')))
        c.cpuPercent = value
      if (c && (raw.metric === 'container_memory_bytes' || (raw.metric === 'memory' && raw.unit === 'bytes')))
        c.memoryBytes = value
      cards = true
    }
    const chart = chartOf(raw.metric)
    if (!chart) continue
    const s = seriesEntry(
      String(raw.series || `${raw.metric}|${resource.kind}|${resource.id}`),
      chart,
      raw.unit,
      resource,
    )
    const t = Number.isFinite(Date.parse(raw.at)) ? Date.parse(raw.at) : Date.now()
    addPoint(s, t, value)
    trim(s)
  }
  scheduleCharts()
  if (cards) scheduleCards()
}

/**
 * A live sample: its readings extend the same series as the monitor's, and the panel says when the
 * last one came. What it says of the containers (how many, or why none) goes in the title.
 */
export function onSample(data) {
  if (!data || !Array.isArray(data.readings)) return
  onMetrics({ readings: data.readings })
  const at = Date.parse(data.at)
  if (!Number.isFinite(at)) return
  state.lastSampleAt = at
  state.samples++
  const note = $('sample-note')
  if (!note) return
  note.hidden = false
  note.dataset.samples = String(state.samples)
  note.textContent = `live · sampled ${fmtClock(at)}`
  const c = data.containers || {}
  note.title = c.error
    ? `Host sampled; containers not: ${c.error}`
    : `Host and ${Number(c.listed) || 0} watched container(s) sampled`
}

/** The last hour from GET /api/readings/recent, merged with whatever the stream already brought. */
export function onRecent(body) {
  for (const r of (body && body.series) || []) {
    const chart = chartOf(r.metric)
    if (!chart || !Array.isArray(r.points)) continue
    const s = seriesEntry(String(r.series), chart, r.unit, r.resource)
    const fresh = r.points.filter((p) => Array.isArray(p) && Number.isFinite(p[0]) && Number.isFinite(p[1]))
    if (!s.points.length) s.points = fresh.map(([t, v]) => ({ t, v }))
    else for (const [t, v] of fresh) addPoint(s, t, v)
    trim(s)
  }
  scheduleCharts()
}

export async function loadRecent() {
  const metrics = Object.keys(CHART_OF).join(',')
  onRecent(await api(`/api/readings/recent?minutes=60&maxPoints=720&metric=${encodeURIComponent(metrics)}`))
}

let chartsPending = false
export function scheduleCharts() {
  if (chartsPending) return
  chartsPending = true
  requestAnimationFrame(() => {
    chartsPending = false
    drawCharts()
  })
}

function colorFor(key) {
  if (!state.seriesColors.has(key)) state.seriesColors.set(key, PALETTE[state.seriesColors.size % PALETTE.length])
  return state.seriesColors.get(key)
}

function seriesOf(metric, tMin) {
  return [...state.series.values()].filter(
    (s) =>
      s.metric === metric &&
      s.points.length &&
      s.points[s.points.length - 1].t >= tMin &&
      (state.chartFilter === 'all' ||
        s.resource.kind === state.chartFilter ||
        (state.chartFilter === 'host' && s.resource.kind !== 'container')),
  )
}

/** The top of the value axis: four equal steps of a round size (1, 2, 2.5 or 5 times a power of ten). */
function niceMax(v) {
  if (!(v > 0)) return 4
  const raw = v / 4
  const p = Math.pow(10, Math.floor(Math.log10(raw)))
  for (const m of [1, 2, 2.5, 5, 10]) if (raw <= m * p) return 4 * m * p
  return 40 * p
}

/** The usual time between a series' readings (the median of its recent intervals). */
function usualInterval(points) {
  const d = []
  for (let i = Math.max(1, points.length - 60); i < points.length; i++) d.push(points[i].t - points[i - 1].t)
  if (!d.length) return 0
  d.sort((a, b) => a - b)
  return d[Math.floor(d.length / 2)]
}

/** Runs of points with no real gap between them. */
export function segments(points, gapMs) {
  const out = []
  let cur = []
  for (const p of points) {
    if (cur.length && p.t - cur[cur.length - 1].t > gapMs) {
      out.push(cur)
      cur = []
    }
    cur.push(p)
  }
  if (cur.length) out.push(cur)
  return out
}

export function drawCharts() {
  for (const fig of document.querySelectorAll('.chart')) drawChart(fig)
}

function drawChart(fig) {
  const metric = fig.dataset.metric
  const canvas = fig.querySelector('canvas')
  const windowMs = state.chartWindowMs
  const tMax = Date.now()
  const tMin = tMax - windowMs
  const list = seriesOf(metric, tMin)
  fig.querySelector('.chart-empty').hidden = list.length > 0
  const legend = fig.querySelector('.legend')
  clear(legend)
  fig.dataset.lines = '0'
  fig.dataset.dots = '0'
  fig.dataset.points = '0'
  // The newest point in view, so a reader (or a test) can see the chart move.
  let latest = 0
  for (const s of list) latest = Math.max(latest, s.points[s.points.length - 1].t)
  fig.dataset.latest = String(latest)
  const dpr = window.devicePixelRatio || 1
  const w = canvas.clientWidth
  const h = canvas.clientHeight
  if (!w || !h) return
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr)
    canvas.height = Math.round(h * dpr)
  }
  const ctx = canvas.getContext('2d')
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0)
  ctx.clearRect(0, 0, w, h)
  if (!list.length) {
    fig.chartGeom = null
    return
  }

  // One value axis: plot the series of the most common unit; the others are only listed.
  const byUnit = new Map()
  for (const s of list) byUnit.set(String(s.unit || ''), (byUnit.get(String(s.unit || '')) || 0) + 1)
  const unit = [...byUnit.entries()].sort((a, b) => b[1] - a[1])[0][0]
  const plotted = list.filter((s) => String(s.unit || '') === unit)
  const percent = /^(percent|%|pct)$/i.test(unit)
  let vMax = 0
  for (const s of plotted) for (const p of s.points) if (p.t >= tMin) vMax = Math.max(vMax, p.v)
  vMax = percent ? Math.max(100, niceMax(vMax)) : niceMax(vMax * 1.1)

  const padL = 54
  const padR = 8
  const padT = 8
  const padB = 18
  const pw = w - padL - padR
  const ph = h - padT - padB
  const x = (t) => padL + ((t - tMin) / windowMs) * pw
  const y = (v) => padT + ph - (Math.max(0, v) / vMax) * ph

  ctx.font = '10px system-ui, sans-serif'
  ctx.textBaseline = 'middle'
  ctx.lineWidth = 1
  for (let i = 0; i <= 4; i++) {
    const v = (vMax * i) / 4
    const yy = Math.round(y(v)) + 0.5
    ctx.strokeStyle = i === 0 ? '#2f3e53' : '#1f2a3a'
    ctx.beginPath()
    ctx.moveTo(padL, yy)
    ctx.lineTo(w - padR, yy)
    ctx.stroke()
    ctx.fillStyle = '#8a9bb0'
    ctx.textAlign = 'right'
    ctx.fillText(fmtAxis(v, unit), padL - 6, yy)
  }
  ctx.textAlign = 'center'
  ctx.textBaseline = 'alphabetic'
  for (let i = 0; i <= 5; i++) {
    const t = tMin + (windowMs * i) / 5
    const label = i === 5 ? 'now' : `-${Math.round((tMax - t) / 60000)}m`
    ctx.fillStyle = '#6d7f96'
    ctx.fillText(label, Math.min(Math.max(x(t), padL + 10), w - padR - 12), h - 4)
  }

  let lines = 0
  let dots = 0
  let drawn = 0
  // Series with a single reading in view (a container seen once so far): a dot is all they can be.
  let singles = 0
  const geom = []
  ctx.save()
  ctx.beginPath()
  ctx.rect(padL, padT - 2, pw, ph + 4)
  ctx.clip()
  for (const s of plotted) {
    const color = colorFor(s.key)
    const usual = usualInterval(s.points)
    const gapMs = Math.max(MIN_GAP_MS, usual * 5)
    // One point before the window too, so a line enters from the left edge.
    let first = s.points.findIndex((p) => p.t >= tMin)
    if (first > 0 && s.points[first].t - s.points[first - 1].t <= gapMs) first--
    const pts = first < 0 ? [] : s.points.slice(first)
    drawn += pts.length
    if (pts.length === 1) singles++
    ctx.strokeStyle = color
    ctx.fillStyle = color
    ctx.lineWidth = 1.6
    ctx.lineJoin = 'round'
    ctx.lineCap = 'round'
    for (const seg of segments(pts, gapMs)) {
      if (seg.length === 1) {
        // A reading with no neighbour within the gap: a dot, so it still shows.
        dots++
        ctx.beginPath()
        ctx.arc(x(seg[0].t), y(seg[0].v), 2.5, 0, Math.PI * 2)
        ctx.fill()
        continue
      }
      lines++
      ctx.beginPath()
      seg.forEach((p, i) => (i ? ctx.lineTo(x(p.t), y(p.v)) : ctx.moveTo(x(p.t), y(p.v))))
      ctx.stroke()
    }
    // The newest reading, marked.
    const last = pts[pts.length - 1]
    if (last) {
      ctx.beginPath()
      ctx.arc(x(last.t), y(last.v), 2, 0, Math.PI * 2)
      ctx.fill()
    }
    geom.push({ s, near: Math.max(90_000, usual * 0.75) })
  }
  ctx.restore()
  fig.dataset.lines = String(lines)
  fig.dataset.dots = String(dots)
  fig.dataset.singles = String(singles)
  fig.dataset.points = String(drawn)
  fig.chartGeom = { tMin, windowMs, list: geom, padL, pw }

  for (const s of list.slice().sort((a, b) => b.points[b.points.length - 1].v - a.points[a.points.length - 1].v)) {
    const last = s.points[s.points.length - 1]
    const off = String(s.unit || '') !== unit
    legend.append(
      el(
        'li',
        {
          'data-series': s.key,
          class: off ? 'off-scale' : null,
          title: off ? "Not plotted: another unit than this chart's axis" : null,
        },
        el('span', { class: 'swatch', style: { background: colorFor(s.key) } }),
        el(
          'span',
          { class: 'lname', title: s.resource.name || s.resource.id },
          s.resource.name || s.resource.id || s.key,
        ),
        el('span', { class: 'lkind' }, s.resource.kind || ''),
        el('span', { class: 'lval' }, fmtValue(last.v, s.unit)),
      ),
    )
  }
}

export function chartHover(fig, e) {
  const tip = fig.querySelector('.chart-tip')
  const g = fig.chartGeom
  const rect = fig.querySelector('canvas').getBoundingClientRect()
  const px = e.clientX - rect.left
  if (!g || px < g.padL) {
    tip.hidden = true
    return
  }
  const t = g.tMin + ((px - g.padL) / g.pw) * g.windowMs
  clear(tip)
  let when = 0
  for (const { s, near } of g.list) {
    let best = null
    for (const p of s.points) if (!best || Math.abs(p.t - t) < Math.abs(best.t - t)) best = p
    if (!best || Math.abs(best.t - t) > near) continue
    when = best.t
    tip.append(
      el(
        'div',
        null,
        el('span', {
          class: 'swatch',
          style: {
            background: colorFor(s.key),
            width: '8px',
            height: '8px',
            display: 'inline-block',
            borderRadius: '2px',
          },
        }),
        `${s.resource.name || s.key}: ${fmtValue(best.v, s.unit)}`,
      ),
    )
  }
  if (!when) {
    tip.hidden = true
    return
  }
  tip.prepend(el('div', { class: 'muted' }, fmtClock(when)))
  tip.hidden = false
  tip.style.left = `${Math.min(px + 12, rect.width - tip.offsetWidth - 4)}px`
}
