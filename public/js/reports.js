/*
 * The Reports view: GET /api/reports/summary over a period, by day or week. The totals (incidents,
 * share fixed automatically, escalation rate, rollbacks, times to detect and resolve, time people
 * spent approving), three charts drawn here as SVG (incidents per bucket stacked by type, the
 * median time to resolve, the share fixed automatically) and the resources with the most
 * incidents. SVG rather than a canvas: a few dozen bars and points, each with its own tooltip
 * (<title>), sized to the box when drawn and again when the window changes size.
 */
import { api } from './api.js'
import { $, clear, el } from './dom.js'
import { fmtDuration, titleCase } from './format.js'

const SVG = 'http://www.w3.org/2000/svg'
const DAY_MS = 24 * 3600 * 1000
/** Fixed colours per incident type, so a type keeps its colour from one report to the next. */
const TYPE_COLORS = {
  container_down: '#ef4d56',
  container_unhealthy: '#ff8f5a',
  memory: '#b48cff',
  cpu: '#4da3ff',
  disk: '#f0b429',
  latency: '#3dd6d0',
  anomaly: '#e66bc1',
}
const SPARE = ['#9bd35a', '#c9ced6', '#2fbf71', '#8b9cff']
const HEIGHT = 190
const PAD = { l: 44, r: 10, t: 10, b: 24 }

/** When the report on screen was loaded (0: never), its generation, and its body. */
const rep = { loadedAt: 0, gen: 0, last: null }

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag)
  for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) node.setAttribute(k, String(v))
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue
    node.append(c instanceof Node ? c : document.createTextNode(String(c)))
  }
  return node
}
/** A tooltip: SVG's own <title>, text only. */
const tip = (text) => svg('title', null, text)

const dateInput = (ms) => {
  const d = new Date(ms)
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`
}

export function initReports() {
  const now = Date.now()
  $('rf-from').value = dateInput(now - 29 * DAY_MS)
  $('rf-to').value = dateInput(now)
  $('reports-form').addEventListener('submit', (e) => {
    e.preventDefault()
    loadReports()
  })
  let pending = false
  window.addEventListener('resize', () => {
    if (pending || !rep.last || $('reports-view').hidden) return
    pending = true
    requestAnimationFrame(() => {
      pending = false
      drawReport(rep.last)
    })
  })
}

export function resetReports() {
  rep.loadedAt = 0
  rep.last = null
  rep.gen++
}

/** Shows the view: loads the report the first time, or again when it is more than a minute old. */
export function showReports() {
  if (Date.now() - rep.loadedAt > 60_000) loadReports()
  else if (rep.last) drawReport(rep.last)
}

/** The period of the form: from the start of its first day to the end of its last, local time. */
function period() {
  const from = new Date(`${$('rf-from').value}T00:00:00`)
  const to = new Date(`${$('rf-to').value}T00:00:00`)
  const p = new URLSearchParams({ by: $('rf-by').value || 'day' })
  if (Number.isFinite(from.getTime())) p.set('from', from.toISOString())
  if (Number.isFinite(to.getTime())) p.set('to', new Date(to.getTime() + DAY_MS).toISOString())
  return p
}

export async function loadReports() {
  const gen = ++rep.gen
  const status = $('reports-status')
  status.textContent = 'Loading…'
  let body
  try {
    body = await api(`/api/reports/summary?${period()}`)
  } catch (err) {
    if (gen !== rep.gen) return
    status.textContent =
      err.status === 404
        ? 'This Sentinel has no reports (GET /api/reports/summary is not there).'
        : `Could not load the report: ${err.message}`
    return
  }
  if (gen !== rep.gen) return
  rep.loadedAt = Date.now()
  rep.last = body || {}
  status.textContent = ''
  drawReport(rep.last)
}

// ---------- totals and tables ----------

const pct = (v) =>
  v === null || v === undefined || !Number.isFinite(Number(v)) ? '—' : `${Math.round(Number(v) * 100)}%`
const secs = (v) => (v === null || v === undefined || !Number.isFinite(Number(v)) ? '—' : fmtDuration(Number(v) * 1000))

function tile(label, value, sub, testid) {
  return el(
    'div',
    { class: 'tile', 'data-testid': testid },
    el('span', { class: 'tile-label' }, label),
    el('span', { class: 'tile-value' }, value),
    sub ? el('span', { class: 'tile-sub' }, sub) : null,
  )
}

function renderTotals(t) {
  const box = $('report-totals')
  clear(box)
  const n = (v) => (Number.isFinite(Number(v)) ? String(v) : '—')
  const ttd = t.timeToDetect || {}
  const ttr = t.timeToResolve || {}
  const ap = t.approvalSeconds || {}
  box.append(
    tile('Incidents', n(t.incidents), null, 'report-total-incidents'),
    tile('Fixed automatically', pct(t.autoFixedShare), `${n(t.autoFixed)} incident(s)`, 'report-total-autofixed'),
    tile('Escalated', pct(t.escalationRate), `${n(t.escalated)} incident(s)`, 'report-total-escalated'),
    tile('Rollbacks', n(t.rollbacks), null, 'report-total-rollbacks'),
    tile('Time to detect', secs(ttd.medianSeconds), `median · p90 ${secs(ttd.p90Seconds)}`, 'report-total-ttd'),
    tile('Time to resolve', secs(ttr.medianSeconds), `median · p90 ${secs(ttr.p90Seconds)}`, 'report-total-ttr'),
    tile('Approving', secs(ap.total), `in all · median ${secs(ap.median)}`, 'report-total-approval'),
  )
}

function fillTable(tbody, rows, empty) {
  clear(tbody)
  if (!rows.length) tbody.append(el('tr', null, el('td', { colspan: 3, class: 'muted' }, empty)))
  for (const cells of rows)
    tbody.append(
      el(
        'tr',
        null,
        cells.map((c) => el('td', null, c)),
      ),
    )
}

// ---------- charts ----------

function colorOf(type, types) {
  if (TYPE_COLORS[type]) return TYPE_COLORS[type]
  const others = types.filter((t) => !TYPE_COLORS[t])
  return SPARE[others.indexOf(type) % SPARE.length]
}

/** A round top for the value axis: 1, 2, 2.5 or 5 times a power of ten, split in four steps. */
function niceMax(v) {
  if (!(v > 0)) return 4
  const raw = v / 4
  const p = Math.pow(10, Math.floor(Math.log10(raw)))
  for (const m of [1, 2, 2.5, 5, 10]) if (raw <= m * p) return 4 * m * p
  return 40 * p
}

function bucketLabel(start, by) {
  const d = new Date(start)
  if (!Number.isFinite(d.getTime())) return '?'
  // Buckets are UTC days and weeks (the server's): labelled in UTC, so a day is not shown as the one before.
  const label = d.toLocaleDateString(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' })
  return by === 'week' ? `wk ${label}` : label
}

/** The frame every chart shares: an SVG of the box's width, value grid and bucket labels. */
function frame(box, buckets, by, vMax, fmtTick) {
  const w = Math.max(260, Math.round(box.clientWidth || 600))
  const root = svg('svg', {
    viewBox: `0 0 ${w} ${HEIGHT}`,
    width: '100%',
    height: HEIGHT,
    role: 'img',
    class: 'rchart-svg',
  })
  const pw = w - PAD.l - PAD.r
  const ph = HEIGHT - PAD.t - PAD.b
  const y = (v) => PAD.t + ph - (Math.max(0, v) / vMax) * ph
  for (let i = 0; i <= 4; i++) {
    const v = (vMax * i) / 4
    const yy = Math.round(y(v)) + 0.5
    root.append(
      svg('line', { x1: PAD.l, x2: w - PAD.r, y1: yy, y2: yy, class: i === 0 ? 'axis' : 'grid' }),
      svg('text', { x: PAD.l - 6, y: yy + 3, class: 'tick', 'text-anchor': 'end' }, fmtTick(v)),
    )
  }
  const n = Math.max(1, buckets.length)
  const slot = pw / n
  const x = (i) => PAD.l + slot * i + slot / 2
  // As many labels as fit, evenly spaced.
  const every = Math.max(1, Math.ceil(n / Math.max(1, Math.floor(pw / 58))))
  buckets.forEach((b, i) => {
    if (i % every) return
    root.append(
      svg('text', { x: x(i), y: HEIGHT - 6, class: 'tick', 'text-anchor': 'middle' }, bucketLabel(b.start, by)),
    )
  })
  return { root, x, y, slot, ph }
}

function emptyChart(box, fig, text) {
  clear(box)
  box.append(el('p', { class: 'muted rchart-empty' }, text))
  fig.dataset.bars = '0'
  fig.dataset.points = '0'
}

function drawIncidents(fig, buckets, by) {
  const box = fig.querySelector('.rchart-box')
  const legend = fig.querySelector('.rchart-legend')
  fig.querySelector('.rchart-by').textContent = by
  clear(legend)
  const types = [...new Set(buckets.flatMap((b) => Object.keys(b.byType || {})))].sort()
  const tallest = Math.max(0, ...buckets.map((b) => Number(b.incidents) || 0))
  if (!buckets.length || tallest === 0) return emptyChart(box, fig, 'No incidents in this period.')
  // Counts: four whole steps (0 1 2 3 4, 0 5 10 15 20...), never a tick at 0.25 of an incident.
  const vMax = Math.max(4, Math.ceil(niceMax(tallest) / 4) * 4)
  const { root, x, y, slot } = frame(box, buckets, by, vMax, (v) => String(Math.round(v)))
  const bw = Math.max(2, Math.min(36, slot * 0.7))
  let bars = 0
  buckets.forEach((b, i) => {
    let base = 0
    for (const t of types) {
      const count = Number((b.byType || {})[t]) || 0
      if (!(count > 0)) continue
      const top = y(base + count)
      root.append(
        svg(
          'rect',
          {
            x: x(i) - bw / 2,
            y: top,
            width: bw,
            height: Math.max(1, y(base) - top),
            fill: colorOf(t, types),
            'data-type': t,
            'data-count': count,
            class: 'bar-seg',
          },
          tip(`${bucketLabel(b.start, by)}: ${count} ${titleCase(t)}`),
        ),
      )
      base += count
      bars++
    }
    // Incidents the bucket counts beyond its types (none, normally) still show as grey.
    const rest = (Number(b.incidents) || 0) - base
    if (rest > 0) {
      const top = y(base + rest)
      root.append(
        svg(
          'rect',
          {
            x: x(i) - bw / 2,
            y: top,
            width: bw,
            height: Math.max(1, y(base) - top),
            fill: '#6d7f96',
            class: 'bar-seg',
          },
          tip(`${bucketLabel(b.start, by)}: ${rest} other`),
        ),
      )
      bars++
    }
  })
  clear(box)
  box.append(root)
  fig.dataset.bars = String(bars)
  for (const t of types)
    legend.append(
      el(
        'li',
        { 'data-type': t },
        el('span', { class: 'swatch', style: { background: colorOf(t, types), height: '10px' } }),
        el('span', { class: 'lname' }, titleCase(t)),
      ),
    )
}

/** A line over the buckets with a value; a bucket without one breaks the line. */
function drawLine(fig, buckets, by, valueOf, opts) {
  const box = fig.querySelector('.rchart-box')
  const values = buckets.map(valueOf)
  const present = values.filter((v) => v !== null && Number.isFinite(v))
  if (!present.length) return emptyChart(box, fig, opts.empty)
  const vMax = opts.max ?? niceMax(Math.max(...present) * 1.1)
  const { root, x, y, slot } = frame(box, buckets, by, vMax, opts.tick)
  let points = 0
  let run = []
  const flush = () => {
    if (run.length > 1)
      root.append(
        svg('polyline', { points: run.map(([px, py]) => `${px},${py}`).join(' '), class: 'line', stroke: opts.color }),
      )
    run = []
  }
  values.forEach((v, i) => {
    if (v === null || !Number.isFinite(v)) return flush()
    // Bars stand alone; only a line joins its points.
    if (!opts.bars) run.push([x(i), y(v)])
    points++
    if (opts.bars) {
      const bw = Math.max(2, Math.min(30, slot * 0.6))
      root.append(
        svg(
          'rect',
          {
            x: x(i) - bw / 2,
            y: y(v),
            width: bw,
            height: Math.max(1, y(0) - y(v)),
            fill: opts.color,
            class: 'bar-seg',
          },
          tip(`${bucketLabel(buckets[i].start, by)}: ${opts.label(v)}`),
        ),
      )
    } else
      root.append(
        svg(
          'circle',
          { cx: x(i), cy: y(v), r: 3, fill: opts.color, class: 'point' },
          tip(`${bucketLabel(buckets[i].start, by)}: ${opts.label(v)}`),
        ),
      )
  })
  if (!opts.bars) flush()
  clear(box)
  box.append(root)
  fig.dataset.points = String(points)
  fig.dataset.bars = opts.bars ? String(points) : '0'
}

function drawReport(r) {
  const buckets = Array.isArray(r.buckets) ? r.buckets : []
  const by = r.by === 'week' ? 'week' : 'day'
  renderTotals(r.totals || {})
  drawIncidents($('reports-view').querySelector('[data-testid="report-incidents"]'), buckets, by)
  drawLine(
    $('reports-view').querySelector('[data-testid="report-mttr"]'),
    buckets,
    by,
    (b) => (b.mttrMedianSeconds === null || b.mttrMedianSeconds === undefined ? null : Number(b.mttrMedianSeconds)),
    {
      color: '#4da3ff',
      empty: 'No incident was resolved in this period.',
      tick: (v) => (v === 0 ? '0' : fmtDuration(v * 1000)),
      label: (v) => `median ${fmtDuration(v * 1000)}`,
    },
  )
  drawLine(
    $('reports-view').querySelector('[data-testid="report-autofix"]'),
    buckets,
    by,
    (b) => (b.autoFixedShare === null || b.autoFixedShare === undefined ? null : Number(b.autoFixedShare) * 100),
    {
      color: '#2fbf71',
      max: 100,
      bars: true,
      empty: 'No incidents in this period.',
      tick: (v) => `${Math.round(v)}%`,
      label: (v) => `${Math.round(v)}% fixed automatically`,
    },
  )
  const top = Array.isArray(r.topResources) ? r.topResources : []
  fillTable(
    $('report-top-body'),
    top.map((t) => [t.name || '—', t.kind || '', String(t.count)]),
    'No incidents in this period.',
  )
  const sorted = (rec) => Object.entries(rec || {}).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
  fillTable(
    $('report-type-body'),
    sorted(r.byType).map(([k, v]) => [titleCase(k), String(v)]),
    'None.',
  )
  fillTable(
    $('report-node-body'),
    sorted(r.byNode).map(([k, v]) => [k, String(v)]),
    'None.',
  )
  const range =
    r.from && r.to ? `${new Date(r.from).toLocaleString()} to ${new Date(r.to).toLocaleString()}, by ${by}` : ''
  $('reports-status').textContent = range
}
