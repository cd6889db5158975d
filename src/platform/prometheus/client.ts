/**
 * A small client over Prometheus's HTTP API (instant and range queries) using fetch.
 * Every failure becomes a PrometheusError whose `kind` tells unreachable from a bad query,
 * so the Monitor can fall back to the local collectors only when Prometheus is really away.
 */
import { childSpanActive, withChildSpan } from '../telemetry/tracing'

export type PrometheusErrorKind = 'unreachable' | 'timeout' | 'http' | 'query' | 'invalid_response'

export class PrometheusError extends Error {
  constructor(
    public readonly kind: PrometheusErrorKind,
    message: string,
    /** The system error code (ECONNREFUSED...) when the connection failed. */
    public readonly code?: string,
    /** The HTTP status when Prometheus answered. */
    public readonly status?: number,
    /** Prometheus's errorType (bad_data, execution, timeout...) when it reported one. */
    public readonly errorType?: string,
  ) {
    super(message)
    this.name = 'PrometheusError'
  }

  /** Prometheus is down or cannot be reached (as opposed to a bad query). */
  get unavailable(): boolean {
    return this.kind === 'unreachable' || this.kind === 'timeout' || (this.kind === 'http' && (this.status ?? 0) >= 500)
  }
}

/** One sample of an instant vector (or a scalar, with empty labels). */
export interface PromSample {
  labels: Record<string, string>
  value: number
  /** Unix milliseconds of the sample. */
  at: number
}

export interface PromSeries {
  labels: Record<string, string>
  /** [unix milliseconds, value] pairs. */
  points: Array<[number, number]>
}

export interface PrometheusClientOptions {
  /** Base URL, e.g. http://127.0.0.1:9090 (a path prefix is kept). */
  url: string
  /** Per request; default 5000. */
  timeoutMs?: number
  fetch?: typeof fetch
  headers?: Record<string, string>
}

type ApiEnvelope = {
  status: 'success' | 'error'
  data?: { resultType: string; result: unknown }
  errorType?: string
  error?: string
}

const toSeconds = (t: Date | number) => (t instanceof Date ? t.getTime() : t) / 1000

function systemCode(err: unknown): string | undefined {
  // undici wraps the socket error: TypeError('fetch failed') with cause { code: 'ECONNREFUSED' }.
  let e: unknown = err
  for (let i = 0; i < 4 && typeof e === 'object' && e !== null; i++) {
    if ('code' in e && typeof e.code === 'string') return e.code
    e = 'cause' in e ? e.cause : undefined
  }
  return undefined
}

export class PrometheusClient {
  readonly url: string
  readonly timeoutMs: number
  private readonly fetchImpl: typeof fetch
  private readonly headers: Record<string, string>

  constructor(opts: PrometheusClientOptions) {
    let parsed: URL
    try {
      parsed = new URL(opts.url)
    } catch {
      throw new PrometheusError('invalid_response', `invalid Prometheus URL "${opts.url}"`)
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
      throw new PrometheusError('invalid_response', `Prometheus URL must be http(s), got "${opts.url}"`)
    this.url = opts.url.replace(/\/+$/, '')
    this.timeoutMs = opts.timeoutMs ?? 5000
    this.fetchImpl = opts.fetch ?? fetch
    this.headers = opts.headers ?? {}
  }

  /** Instant query at `time` (now by default). A scalar result comes back as one sample without labels. */
  async query(promql: string, opts: { time?: Date | number } = {}): Promise<PromSample[]> {
    const params: Record<string, string> = { query: promql }
    if (opts.time !== undefined) params.time = String(toSeconds(opts.time))
    const data = await this.call('/api/v1/query', params, promql)
    if (data.resultType === 'vector') {
      return (data.result as Array<{ metric: Record<string, string>; value: [number, string] }>).map((s) => ({
        labels: s.metric ?? {},
        value: Number(s.value[1]),
        at: Math.round(s.value[0] * 1000),
      }))
    }
    if (data.resultType === 'scalar') {
      const [t, v] = data.result as [number, string]
      return [{ labels: {}, value: Number(v), at: Math.round(t * 1000) }]
    }
    throw new PrometheusError(
      'invalid_response',
      `query returned ${data.resultType}, expected a vector or scalar: ${promql}`,
    )
  }

  /** Range query from `start` to `end` every `stepSeconds`. */
  async queryRange(
    promql: string,
    opts: { start: Date | number; end: Date | number; stepSeconds: number },
  ): Promise<PromSeries[]> {
    if (!(opts.stepSeconds > 0)) throw new PrometheusError('query', 'queryRange: stepSeconds must be > 0')
    const data = await this.call(
      '/api/v1/query_range',
      {
        query: promql,
        start: String(toSeconds(opts.start)),
        end: String(toSeconds(opts.end)),
        step: String(opts.stepSeconds),
      },
      promql,
    )
    if (data.resultType !== 'matrix')
      throw new PrometheusError(
        'invalid_response',
        `query_range returned ${data.resultType}, expected a matrix: ${promql}`,
      )
    return (data.result as Array<{ metric: Record<string, string>; values: Array<[number, string]> }>).map((s) => ({
      labels: s.metric ?? {},
      points: s.values.map(([t, v]) => [Math.round(t * 1000), Number(v)] as [number, number]),
    }))
  }

  /** Resolves when /-/ready answers 200. */
  async ready(): Promise<void> {
    const res = await this.request(`${this.url}/-/ready`, { method: 'GET' })
    await res.text().catch(() => '')
    if (!res.ok) throw new PrometheusError('http', `prometheus /-/ready answered ${res.status}`, undefined, res.status)
  }

  private async request(url: string, init: RequestInit): Promise<Response> {
    try {
      return await this.fetchImpl(url, {
        ...init,
        headers: { ...this.headers, ...(init.headers as Record<string, string>) },
        signal: AbortSignal.timeout(this.timeoutMs),
      })
    } catch (err) {
      const name = (err as Error)?.name
      if (name === 'TimeoutError' || name === 'AbortError') {
        throw new PrometheusError(
          'timeout',
          `prometheus at ${this.url} did not answer within ${this.timeoutMs} ms`,
          'ETIMEDOUT',
        )
      }
      const code = systemCode(err)
      // undici refuses some ports and schemes itself ("bad port"): its cause says so.
      const why =
        code ?? ((err as Error)?.cause as Error | undefined)?.message ?? (err as Error)?.message ?? 'unknown error'
      throw new PrometheusError('unreachable', `prometheus unreachable at ${this.url}: ${why}`, code)
    }
  }

  /** One API call in its `prometheus.query` / `prometheus.query_range` span (a no-op without an active span). */
  private call(
    apiPath: string,
    params: Record<string, string>,
    promql: string,
  ): Promise<{ resultType: string; result: unknown }> {
    if (!childSpanActive()) return this.send(apiPath, params, promql)
    const name = apiPath.endsWith('query_range') ? 'prometheus.query_range' : 'prometheus.query'
    return withChildSpan(
      name,
      { 'db.system': 'prometheus', 'db.query.text': promql.slice(0, 500), 'server.address': this.url },
      async (span) => {
        try {
          const data = await this.send(apiPath, params, promql)
          span.setAttributes({
            outcome: 'ok',
            'prometheus.result_type': data.resultType,
            'prometheus.series': Array.isArray(data.result) && data.resultType !== 'scalar' ? data.result.length : 1,
          })
          return data
        } catch (err) {
          if (err instanceof PrometheusError)
            span.setAttributes({ outcome: err.kind, 'error.type': err.errorType ?? err.code ?? err.kind })
          throw err
        }
      },
    )
  }

  private async send(
    apiPath: string,
    params: Record<string, string>,
    promql: string,
  ): Promise<{ resultType: string; result: unknown }> {
    // POST with a form body: long PromQL does not hit URL length limits.
    const res = await this.request(this.url + apiPath, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams(params).toString(),
    })
    let text: string
    try {
      text = await res.text()
    } catch (err) {
      throw new PrometheusError(
        'unreachable',
        `prometheus at ${this.url} dropped the response: ${(err as Error).message}`,
        systemCode(err),
      )
    }
    let body: ApiEnvelope | undefined
    try {
      body = JSON.parse(text) as ApiEnvelope
    } catch {
      body = undefined
    }
    if (!body || typeof body !== 'object' || (body.status !== 'success' && body.status !== 'error')) {
      if (!res.ok)
        throw new PrometheusError(
          'http',
          `prometheus ${apiPath} answered HTTP ${res.status}: ${text.slice(0, 200)}`,
          undefined,
          res.status,
        )
      throw new PrometheusError(
        'invalid_response',
        `prometheus ${apiPath} answered something that is not the API's JSON: ${text.slice(0, 200)}`,
        undefined,
        res.status,
      )
    }
    if (body.status === 'error') {
      const kind: PrometheusErrorKind =
        res.status >= 500 && body.errorType !== 'execution' && body.errorType !== 'bad_data' ? 'http' : 'query'
      throw new PrometheusError(
        kind,
        `prometheus rejected the query (${body.errorType ?? 'error'}: ${body.error ?? 'no reason given'}): ${promql}`,
        undefined,
        res.status,
        body.errorType,
      )
    }
    if (!body.data || typeof body.data.resultType !== 'string')
      throw new PrometheusError('invalid_response', `prometheus ${apiPath} answered success without data`)
    return body.data
  }
}
