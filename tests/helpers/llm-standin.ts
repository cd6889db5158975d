/**
 * For tests: a local stand-in for OpenRouter that speaks the OpenAI chat-completions wire
 * protocol (JSON replies, and SSE `data:` chunks ending in `data: [DONE]` when the request asks
 * for `stream: true`), answering from a script of responders, one per request. Scripts can be
 * keyed by a marker in the request (an incident's resource name, say), so that one stand-in
 * serves many incidents analysed at the same time, each with its own script.
 */
import { POSTMORTEM_FACTS_HEADING } from '../../src/history/postmortem'
import http from 'node:http'
import type { AddressInfo } from 'node:net'

export interface ReceivedRequest {
  at: number
  path: string
  headers: http.IncomingHttpHeaders
  raw: string
  body: any
}

export type Responder = (req: ReceivedRequest, res: http.ServerResponse) => void

export interface FakeOpenRouter {
  baseURL: string
  requests: ReceivedRequest[]
  /** Responders for the next requests, in order; the last one repeats. */
  script(...responders: Responder[]): void
  /** Responders for the requests whose body contains `marker`, in order (the last one repeats); before script()'s. */
  scriptFor(marker: string, ...responders: Responder[]): void
  /** Every request whose body contains `marker`, in arrival order. */
  requestsFor(marker: string): ReceivedRequest[]
  close(): Promise<void>
}

/**
 * Whether a request is a postmortem draft (src/history/postmortem.ts), which Sentinel asks for
 * when a critical or escalated incident closes, seconds after its analysis: tests that count an
 * analysis's calls leave these out.
 */
export const isPostmortemDraft = (r: { raw: string }): boolean => r.raw.includes(POSTMORTEM_FACTS_HEADING)

export interface ReplyOptions {
  reasoning?: string
  usage?: { prompt_tokens: number; completion_tokens: number }
  model?: string
}

const DEFAULT_USAGE = { prompt_tokens: 1200, completion_tokens: 300 }

/** Answers `content` as a JSON completion, or as SSE chunks when the request streams. */
export function reply(content: string, opts: ReplyOptions = {}): Responder {
  return (req, res) => {
    const usage = opts.usage ?? DEFAULT_USAGE
    const usageBody = { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens }
    const model = opts.model ?? req.body?.model ?? 'deepseek/deepseek-r1'
    const created = Math.floor(Date.now() / 1000)
    if (!req.body?.stream) {
      const message: Record<string, unknown> = { role: 'assistant', content }
      if (opts.reasoning !== undefined) message.reasoning = opts.reasoning
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(
        JSON.stringify({
          id: 'gen-test',
          object: 'chat.completion',
          created,
          model,
          choices: [{ index: 0, message, finish_reason: 'stop', logprobs: null }],
          usage: usageBody,
        }),
      )
      return
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' })
    const chunk = (delta: Record<string, unknown>, finish: string | null = null, extra: Record<string, unknown> = {}) =>
      `data: ${JSON.stringify({ id: 'gen-test', object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }], ...extra })}\n\n`
    // OpenRouter sends keep-alive comments while the model thinks; the SDK must skip them.
    res.write(': OPENROUTER PROCESSING\n\n')
    res.write(chunk({ role: 'assistant', content: '' }))
    for (const piece of split(opts.reasoning ?? '', 40)) res.write(chunk({ content: '', reasoning: piece }))
    for (const piece of split(content, 25)) res.write(chunk({ content: piece }))
    res.write(chunk({}, 'stop'))
    res.write(
      `data: ${JSON.stringify({ id: 'gen-test', object: 'chat.completion.chunk', created, model, choices: [], usage: usageBody })}\n\n`,
    )
    res.end('data: [DONE]\n\n')
  }
}

function split(s: string, size: number): string[] {
  const out: string[] = []
  for (let i = 0; i < s.length; i += size) out.push(s.slice(i, i + size))
  return out
}

export function status(code: number, headers: Record<string, string> = {}, message = 'scripted failure'): Responder {
  return (_req, res) => {
    res.writeHead(code, { 'content-type': 'application/json', ...headers })
    res.end(JSON.stringify({ error: { message, code } }))
  }
}

/** Never answers (until the client gives up or the server closes). */
export function hang(): Responder {
  return () => {}
}

export async function startFakeOpenRouter(): Promise<FakeOpenRouter> {
  const requests: ReceivedRequest[] = []
  const all: ReceivedRequest[] = []
  let queue: Responder[] = [status(500, {}, 'no script')]
  const byMarker = new Map<string, Responder[]>()
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8')
      let body: any
      try {
        body = JSON.parse(raw)
      } catch {
        body = undefined
      }
      const received: ReceivedRequest = { at: Date.now(), path: req.url ?? '', headers: req.headers, raw, body }
      requests.push(received)
      all.push(received)
      if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
        status(404)(received, res)
        return
      }
      const marked = [...byMarker].find(([marker]) => raw.includes(marker))?.[1]
      const q = marked ?? queue
      const responder = q.length > 1 ? q.shift()! : q[0]
      responder(received, res)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    baseURL: `http://127.0.0.1:${port}/api/v1`,
    requests,
    script(...responders) {
      queue = responders.length ? responders : [status(500)]
      requests.length = 0
    },
    scriptFor(marker, ...responders) {
      byMarker.set(marker, responders.length ? responders : [status(500)])
    },
    requestsFor: (marker) => all.filter((r) => r.raw.includes(marker)),
    close() {
      server.closeAllConnections()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}
