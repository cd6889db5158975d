/**
 * Distributed tracing of incidents with OpenTelemetry, exported as OTLP/HTTP (JSON) to Jaeger or
 * any collector.
 *
 * Every Motia step runs in its own short-lived process, so nothing in-process can hold an incident's
 * trace. Instead:
 * - the trace id and the root span id are derived from the incident id (SHA-256), so every process
 *   can name the incident's root without being told;
 * - each step receives a W3C `traceparent` in its event payload, opens its span as a child of it and
 *   hands its own span's traceparent to the events it emits (steps chain causally);
 * - the root span "incident" is emitted once, when the incident resolves or escalates, with the
 *   incident's recorded opening time as its start time (`endIncidentTrace`);
 * - each step span flushes the exporter when it ends, bounded by a short deadline, so a dead
 *   collector costs a step at most ~1 s and a finished step loses no span.
 *
 * Tracing is on when OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT is set (and
 * OTEL_SDK_DISABLED is not true), read with the rest of the configuration (so `.env` counts too).
 * When off, the OpenTelemetry packages are never loaded and the helpers only run the functions
 * they wrap.
 *
 * The OpenTelemetry global API (global provider, context manager) is left alone: Motia and its
 * plugins may use it. The active span lives in this module's own AsyncLocalStorage.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { createHash, randomBytes } from 'node:crypto'
import type { Context, Span as OtelSpan, SpanContext, Tracer } from '@opentelemetry/api'
import type { BasicTracerProvider, IdGenerator, ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { getConfig, type SentinelConfig } from '../config/index'

export type AttrValue = string | number | boolean
/** Span attributes; undefined values are dropped. The incident attributes have fixed names. */
export interface SpanAttrs {
  'incident.id'?: string
  'alert.type'?: string
  action?: string
  risk?: string
  outcome?: string
  [key: string]: AttrValue | undefined
}

/** What a wrapped function may do with its span (a no-op when tracing is off). */
export interface SpanHandle {
  /** This span's context as a W3C traceparent (undefined when tracing is off). */
  readonly traceparent: string | undefined
  setAttribute(key: string, value: AttrValue | undefined): void
  setAttributes(attrs: SpanAttrs): void
  /** Marks the span failed (status ERROR) with the error recorded as an exception event. */
  recordError(err: unknown): void
  addEvent(name: string, attrs?: SpanAttrs): void
}

export interface TracingOptions {
  /** Full OTLP/HTTP traces URL, e.g. http://127.0.0.1:4318/v1/traces. Unset: tracing is off. */
  tracesUrl?: string
  serviceName?: string
  /** Longest a flush may hold a step (ms). */
  flushTimeoutMs?: number
  /** Longest one export request may take (ms). */
  exportTimeoutMs?: number
}

// ---------------------------------------------------------------------------------------------
// W3C trace context and deterministic ids

const TRACEPARENT_RE = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/
const ZERO_TRACE = '0'.repeat(32)
const ZERO_SPAN = '0'.repeat(16)

export interface ParsedTraceparent {
  traceId: string
  spanId: string
  sampled: boolean
}

export function parseTraceparent(value: unknown): ParsedTraceparent | undefined {
  if (typeof value !== 'string') return undefined
  const m = TRACEPARENT_RE.exec(value.trim().toLowerCase())
  if (!m || m[1] === ZERO_TRACE || m[2] === ZERO_SPAN) return undefined
  return { traceId: m[1], spanId: m[2], sampled: (parseInt(m[3], 16) & 1) === 1 }
}

export const formatTraceparent = (traceId: string, spanId: string, sampled = true) =>
  `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`

const digest = (text: string) => createHash('sha256').update(text).digest('hex')

/** The incident's trace id: the same in every process, from the incident id alone. */
export const incidentTraceId = (incidentId: string) => digest(`sentinel:incident:${incidentId}`).slice(0, 32)
/** The span id of the incident's root span. */
export const incidentRootSpanId = (incidentId: string) => digest(`sentinel:incident-root:${incidentId}`).slice(0, 16)
/** The traceparent naming the incident's root span; steps that lost theirs can hang off it. */
export const incidentTraceparent = (incidentId: string) =>
  formatTraceparent(incidentTraceId(incidentId), incidentRootSpanId(incidentId))

// ---------------------------------------------------------------------------------------------
// Configuration and lazy set-up

type OtelSettings = Pick<
  SentinelConfig,
  'OTEL_SDK_DISABLED' | 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' | 'OTEL_EXPORTER_OTLP_ENDPOINT' | 'OTEL_SERVICE_NAME'
>

/** The tracing options from the standard OpenTelemetry variables, as the configuration read them. */
export function tracingOptionsFromConfig(cfg: OtelSettings = getConfig()): TracingOptions {
  if (cfg.OTEL_SDK_DISABLED) return {}
  const traces = cfg.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
  const base = cfg.OTEL_EXPORTER_OTLP_ENDPOINT
  const tracesUrl = traces ? traces : base ? `${base.replace(/\/+$/, '')}/v1/traces` : undefined
  return { tracesUrl, serviceName: cfg.OTEL_SERVICE_NAME }
}

interface Tracing {
  provider: BasicTracerProvider
  tracer: Tracer
  api: typeof import('@opentelemetry/api')
  ids: OverridableIds
  flushTimeoutMs: number
}

/**
 * Random ids, except when the next ones are set: the incident root span must carry the ids every
 * process derived from the incident id, and the SDK only takes ids from its generator.
 */
class OverridableIds implements IdGenerator {
  nextTraceId?: string
  nextSpanId?: string
  generateTraceId(): string {
    const id = this.nextTraceId ?? randomBytes(16).toString('hex')
    this.nextTraceId = undefined
    return id
  }
  generateSpanId(): string {
    const id = this.nextSpanId ?? randomBytes(8).toString('hex')
    this.nextSpanId = undefined
    return id
  }
}

let options: TracingOptions | undefined
let tracing: Promise<Tracing | undefined> | undefined

/** Replaces the configuration's settings (tests, the bench); call before any span. */
export function configureTracing(opts: TracingOptions): void {
  if (tracing) throw new Error('configureTracing must be called before the first span')
  options = opts
}

/** Whether spans are exported (decided from the options or configuration, without loading OTel). */
export function tracingEnabled(): boolean {
  options ??= tracingOptionsFromConfig()
  return Boolean(options.tracesUrl)
}

function getTracing(): Promise<Tracing | undefined> {
  if (!tracingEnabled()) return Promise.resolve(undefined)
  tracing ??= setUp(options!).catch((err) => {
    // Tracing must never break a step: report once and run untraced.
    process.emitWarning(`sentinel tracing disabled: ${(err as Error).message}`)
    return undefined
  })
  return tracing
}

async function setUp(opts: TracingOptions): Promise<Tracing> {
  const [api, sdk, otlp, resources] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
  ])
  const exportTimeoutMs = opts.exportTimeoutMs ?? 1000
  const exporter = new otlp.OTLPTraceExporter({ url: opts.tracesUrl, timeoutMillis: exportTimeoutMs })
  const ids = new OverridableIds()
  const provider = new sdk.BasicTracerProvider({
    resource: new resources.Resource({ 'service.name': opts.serviceName ?? 'sentinel' }),
    idGenerator: ids,
    spanProcessors: [
      new sdk.BatchSpanProcessor(exporter, {
        scheduledDelayMillis: 1000,
        exportTimeoutMillis: exportTimeoutMs,
        maxExportBatchSize: 512,
        maxQueueSize: 2048,
      }),
    ],
  })
  return { provider, tracer: provider.getTracer('sentinel'), api, ids, flushTimeoutMs: opts.flushTimeoutMs ?? 1000 }
}

// ---------------------------------------------------------------------------------------------
// Spans

const active = new AsyncLocalStorage<OtelSpan>()

const cleanAttrs = (attrs: SpanAttrs | undefined): Record<string, AttrValue> => {
  const out: Record<string, AttrValue> = {}
  for (const [k, v] of Object.entries(attrs ?? {})) if (v !== undefined) out[k] = v
  return out
}

const NOOP_SPAN: SpanHandle = {
  traceparent: undefined,
  setAttribute() {},
  setAttributes() {},
  recordError() {},
  addEvent() {},
}

function handle(t: Tracing, span: OtelSpan): SpanHandle {
  const sc = span.spanContext()
  return {
    traceparent: formatTraceparent(sc.traceId, sc.spanId, (sc.traceFlags & 1) === 1),
    setAttribute: (k, v) => {
      if (v !== undefined) span.setAttribute(k, v)
    },
    setAttributes: (a) => span.setAttributes(cleanAttrs(a)),
    recordError: (err) => markFailed(t, span, err),
    addEvent: (name, a) => span.addEvent(name, cleanAttrs(a)),
  }
}

function markFailed(t: Tracing, span: OtelSpan, err: unknown): void {
  const e = err instanceof Error ? err : new Error(String(err))
  span.recordException(e)
  span.setStatus({ code: t.api.SpanStatusCode.ERROR, message: e.message })
}

function remoteParent(t: Tracing, parent: ParsedTraceparent): Context {
  const sc: SpanContext = {
    traceId: parent.traceId,
    spanId: parent.spanId,
    traceFlags: parent.sampled ? 1 : 0,
    isRemote: true,
  }
  return t.api.trace.setSpanContext(t.api.ROOT_CONTEXT, sc)
}

async function runInSpan<T>(t: Tracing, span: OtelSpan, fn: (span: SpanHandle) => Promise<T>): Promise<T> {
  let failed = false
  try {
    return await active.run(span, () => fn(handle(t, span)))
  } catch (err) {
    failed = true
    markFailed(t, span, err)
    throw err
  } finally {
    // A step that threw without saying how it ended still gets an outcome.
    if (failed && (span as unknown as ReadableSpan).attributes?.outcome === undefined)
      span.setAttribute('outcome', 'error')
    span.end()
  }
}

/**
 * Starts the incident's trace at detection. Returns the traceparent to put in the first event's
 * payload: it names the incident's root span, which `endIncidentTrace` emits at the end (a process
 * that detects cannot hold a span open until resolution). When tracing is on, an instant span
 * "incident.detected" with `attrs` marks the detection, so an incident that never ends still shows.
 */
export async function startIncidentTrace(
  incidentId: string,
  attrs: SpanAttrs = {},
): Promise<{ traceparent: string; startedAt: string }> {
  const startedAt = new Date()
  const traceparent = formatTraceparent(incidentTraceId(incidentId), incidentRootSpanId(incidentId))
  const t = await getTracing()
  if (t) {
    const ctx = remoteParent(t, parseTraceparent(traceparent)!)
    t.tracer
      .startSpan(
        'incident.detected',
        { startTime: startedAt, attributes: cleanAttrs({ ...attrs, 'incident.id': incidentId }) },
        ctx,
      )
      .end(startedAt)
  }
  return { traceparent, startedAt: startedAt.toISOString() }
}

/**
 * Emits the root span "incident" once the incident is resolved or escalated: from `startTime` (the
 * incident's opening time) to now, with the deterministic ids every step span already points at.
 * Flushes before returning, unless called inside a step span (which flushes when it ends).
 */
export async function endIncidentTrace(
  incidentId: string,
  opts: { startTime: string | number | Date; endTime?: string | number | Date; outcome: string; attrs?: SpanAttrs },
): Promise<void> {
  const t = await getTracing()
  if (!t) return
  const toDate = (v: string | number | Date) => (v instanceof Date ? v : new Date(v))
  // startSpan takes both ids from the generator synchronously: nothing can interleave.
  t.ids.nextTraceId = incidentTraceId(incidentId)
  t.ids.nextSpanId = incidentRootSpanId(incidentId)
  const span = t.tracer.startSpan(
    'incident',
    {
      root: true,
      startTime: toDate(opts.startTime),
      attributes: cleanAttrs({ ...opts.attrs, 'incident.id': incidentId, outcome: opts.outcome }),
    },
    t.api.ROOT_CONTEXT,
  )
  t.ids.nextTraceId = t.ids.nextSpanId = undefined
  if (opts.outcome === 'escalated' || opts.outcome === 'error')
    span.setStatus({ code: t.api.SpanStatusCode.ERROR, message: opts.outcome })
  span.end(opts.endTime ? toDate(opts.endTime) : new Date())
  // Inside a step span, that span's own flush sends this one too.
  if (!active.getStore()) await flushWithin(t)
}

/**
 * Runs a step handler inside the span `name`, child of `traceparent` (or, without one, of the
 * incident root named by attrs['incident.id']; else a new trace). `fn` gets the span and the
 * traceparent to put in the events it emits. The span ends and is flushed (bounded) before the
 * promise settles, so the step's process may exit right after.
 */
export async function withStepSpan<T>(
  name: string,
  traceparent: string | undefined,
  attrs: SpanAttrs,
  fn: (span: SpanHandle, childTraceparent: string | undefined) => Promise<T>,
): Promise<T> {
  const t = await getTracing()
  if (!t) return fn(NOOP_SPAN, traceparent)
  const parent =
    parseTraceparent(traceparent) ??
    (attrs['incident.id'] ? parseTraceparent(incidentTraceparent(attrs['incident.id'])) : undefined)
  const ctx = parent ? remoteParent(t, parent) : t.api.ROOT_CONTEXT
  const span = t.tracer.startSpan(name, { attributes: cleanAttrs(attrs), root: !parent }, ctx)
  try {
    return await runInSpan(t, span, (h) => fn(h, h.traceparent))
  } finally {
    await flushTelemetry()
  }
}

/**
 * A span in the incident's trace for the long-lived main process (the container fast path): child
 * of `opts.traceparent`, or of the incident root; it may start in the past (`opts.startTime`, the
 * moment the failure happened). It is not flushed when it ends: the batch processor
 * exports it within a second and shutdownTelemetry sends the rest, so a slow collector never holds
 * a restart. With tracing off, only runs `fn`.
 */
export async function withIncidentSpan<T>(
  name: string,
  incidentId: string,
  attrs: SpanAttrs,
  fn: (span: SpanHandle) => Promise<T>,
  opts: { traceparent?: string; startTime?: string | number | Date } = {},
): Promise<T> {
  if (!tracingEnabled()) return fn(NOOP_SPAN)
  const t = await getTracing()
  if (!t) return fn(NOOP_SPAN)
  const parent = parseTraceparent(opts.traceparent) ?? parseTraceparent(incidentTraceparent(incidentId))!
  const startTime = opts.startTime === undefined ? undefined : new Date(opts.startTime)
  const span = t.tracer.startSpan(
    name,
    { attributes: cleanAttrs({ ...attrs, 'incident.id': incidentId }), startTime },
    remoteParent(t, parent),
  )
  return runInSpan(t, span, fn)
}

/** A canary deploy's trace: ids derived from the deploy's, so whichever controller drives it adds to one trace. */
export const deployTraceId = (deployId: string) => digest(`sentinel:deploy:${deployId}`).slice(0, 32)
export const deployRootSpanId = (deployId: string) => digest(`sentinel:deploy-root:${deployId}`).slice(0, 16)

/**
 * A deploy's step, as an instant span `deploy.<kind>` in the deploy's trace, under its root; when
 * `end` is given (the deploy finished), the root span "deploy" too, from `end.startTime` to now.
 * Main-process spans: exported by the batch processor, not flushed here. With tracing off, nothing.
 */
export async function recordDeploySpan(
  deployId: string,
  kind: string,
  attrs: SpanAttrs,
  end?: { startTime: string | number | Date; outcome: string },
): Promise<void> {
  if (!tracingEnabled()) return
  const t = await getTracing()
  if (!t) return
  const now = new Date()
  const root = { traceId: deployTraceId(deployId), spanId: deployRootSpanId(deployId), sampled: true }
  t.tracer
    .startSpan(
      `deploy.${kind}`,
      { startTime: now, attributes: cleanAttrs({ ...attrs, 'deploy.id': deployId }) },
      remoteParent(t, root),
    )
    .end(now)
  if (!end) return
  t.ids.nextTraceId = root.traceId
  t.ids.nextSpanId = root.spanId
  const span = t.tracer.startSpan(
    'deploy',
    {
      root: true,
      startTime: new Date(end.startTime),
      attributes: cleanAttrs({ ...attrs, 'deploy.id': deployId, outcome: end.outcome }),
    },
    t.api.ROOT_CONTEXT,
  )
  t.ids.nextTraceId = t.ids.nextSpanId = undefined
  if (end.outcome !== 'succeeded') span.setStatus({ code: t.api.SpanStatusCode.ERROR, message: end.outcome })
  span.end(now)
}

/** Whether a child span would be recorded now (tracing set up and a span active); synchronous. */
export const childSpanActive = (): boolean => tracing !== undefined && active.getStore() !== undefined

/** Attributes a child span takes from its parent unless it sets them itself. */
const INHERITED = ['incident.id', 'alert.type'] as const

/**
 * Runs `fn` in a child span of the active span (a Prometheus query, an LLM call, a Docker or Slack
 * call); it carries the parent's incident id and alert type. Without an active span or with
 * tracing off, only runs `fn`.
 */
export async function withChildSpan<T>(
  name: string,
  attrs: SpanAttrs,
  fn: (span: SpanHandle) => Promise<T>,
): Promise<T> {
  const parent = active.getStore()
  if (!parent || !tracing) return fn(NOOP_SPAN)
  const t = await tracing
  if (!t) return fn(NOOP_SPAN)
  const inherited: SpanAttrs = {}
  const parentAttrs = (parent as unknown as ReadableSpan).attributes ?? {}
  for (const k of INHERITED) if (typeof parentAttrs[k] === 'string') inherited[k] = parentAttrs[k] as string
  const span = t.tracer.startSpan(
    name,
    { attributes: { ...cleanAttrs(inherited), ...cleanAttrs(attrs) }, kind: t.api.SpanKind.CLIENT },
    t.api.trace.setSpan(t.api.ROOT_CONTEXT, parent),
  )
  return runInSpan(t, span, fn)
}

/** The ids of the active span, for log correlation. */
export function activeSpanIds(): { traceId: string; spanId: string } | undefined {
  const span = active.getStore()
  if (!span) return undefined
  const { traceId, spanId } = span.spanContext()
  return { traceId, spanId }
}

/** The traceparent of the active span, for outgoing calls or emitted events. */
export function currentTraceparent(): string | undefined {
  const span = active.getStore()
  if (!span) return undefined
  const sc = span.spanContext()
  return formatTraceparent(sc.traceId, sc.spanId, (sc.traceFlags & 1) === 1)
}

/**
 * Sends the finished spans. Never rejects and never waits longer than the flush timeout: a dead
 * collector must not hold a step.
 */
export async function flushTelemetry(): Promise<void> {
  const t = tracing && (await tracing)
  if (t) await flushWithin(t)
}

async function flushWithin(t: Tracing): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, t.flushTimeoutMs)
    timer.unref()
  })
  await Promise.race([t.provider.forceFlush().catch(() => {}), deadline])
  clearTimeout(timer)
}

/** Flushes and stops the exporter (main process shutdown). Later spans are not exported. */
export async function shutdownTelemetry(): Promise<void> {
  const t = tracing && (await tracing)
  if (!t) return
  await flushWithin(t)
  await Promise.race([
    t.provider.shutdown().catch(() => {}),
    new Promise((r) => setTimeout(r, t.flushTimeoutMs).unref()),
  ])
}
