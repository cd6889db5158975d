/**
 * A real SMTP server on 127.0.0.1 for tests (the `smtp-server` package): it takes mail from
 * nodemailer or any client, optionally requiring a login and offering STARTTLS or implicit TLS,
 * records each message (envelope, raw text, headers, the text and HTML parts, read by the small
 * MIME reader below), counts repeats of X-Sentinel-Idempotency-Key, and can refuse the next N
 * messages (at MAIL FROM, RCPT TO or DATA) or a given recipient with a chosen SMTP code.
 */
import type { AddressInfo } from 'node:net'
import { SMTPServer, type SMTPServerError } from 'smtp-server'

export interface ReceivedMail {
  at: number
  from: string
  to: string[]
  raw: string
  /** Header name (lower case) → values, unfolded, encoded words decoded. */
  headers: Map<string, string[]>
  header(name: string): string | undefined
  subject: string | undefined
  messageId: string | undefined
  text: string | undefined
  html: string | undefined
  /** Whether the session was encrypted (STARTTLS or implicit TLS). */
  secure: boolean
  /** The login used, when there was one. */
  user?: string
}

export type SmtpPhase = 'mail' | 'rcpt' | 'data'

export interface SmtpStandIn {
  host: string
  port: number
  messages: ReceivedMail[]
  /** Messages per X-Sentinel-Idempotency-Key. */
  keys: Map<string, number>
  duplicates(): number
  /** Refuses the next `times` messages at `phase` (data by default) with `code` (451 by default). */
  failNext(times: number, code?: number, phase?: SmtpPhase, text?: string): void
  /** Refuses this recipient with `code` (RCPT TO) until cleared with `code` undefined. */
  rejectRecipient(address: string, code?: number): void
  /** Connections accepted so far (a pooled client reuses them). */
  connections(): number
  close(): Promise<void>
}

export interface SmtpStandInOptions {
  /** Requires this login (AUTH PLAIN or LOGIN). */
  auth?: { username: string; password: string }
  /** A certificate and key (PEM): STARTTLS is offered, or TLS from the first byte when `secure`. */
  tls?: { key: string; cert: string }
  secure?: boolean
}

// ---- A small MIME reader: enough for headers, multipart/alternative and the usual encodings. ----

function decodeWords(value: string): string {
  return value
    .replace(/(=\?[^?]+\?[bBqQ]\?[^?]*\?=)\s+(?==\?)/g, '$1')
    .replace(/=\?([^?]+)\?([bBqQ])\?([^?]*)\?=/g, (_, charset: string, enc: string, text: string) => {
      const bytes =
        enc.toUpperCase() === 'B'
          ? Buffer.from(text, 'base64')
          : Buffer.from(
              text
                .replace(/_/g, ' ')
                .replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))),
              'latin1',
            )
      return bytes.toString(/utf-?8/i.test(charset) ? 'utf8' : 'latin1')
    })
}

export function parseHeaderBlock(block: string): Map<string, string[]> {
  const out = new Map<string, string[]>()
  const unfolded = block.replace(/\r?\n[ \t]+/g, ' ')
  for (const line of unfolded.split(/\r?\n/)) {
    const m = /^([^:\s]+):\s*(.*)$/.exec(line)
    if (!m) continue
    const name = m[1].toLowerCase()
    out.set(name, [...(out.get(name) ?? []), decodeWords(m[2].trim())])
  }
  return out
}

function decodeBody(body: string, encoding: string | undefined, contentType: string | undefined): string {
  const charset = /charset="?([^";\s]+)"?/i.exec(contentType ?? '')?.[1] ?? 'utf-8'
  const asText = (b: Buffer) => b.toString(/utf-?8/i.test(charset) ? 'utf8' : 'latin1')
  switch ((encoding ?? '7bit').toLowerCase()) {
    case 'base64':
      return asText(Buffer.from(body.replace(/\s+/g, ''), 'base64'))
    case 'quoted-printable':
      return asText(
        Buffer.from(
          body
            .replace(/=\r?\n/g, '')
            .replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))),
          'latin1',
        ),
      )
    default:
      return body
  }
}

interface Entity {
  headers: Map<string, string[]>
  body: string
}

function splitEntity(raw: string): Entity {
  const m = /\r?\n\r?\n/.exec(raw)
  const headerText = m ? raw.slice(0, m.index) : raw
  const body = m ? raw.slice(m.index + m[0].length) : ''
  return { headers: parseHeaderBlock(headerText), body }
}

/** The first text/plain and text/html parts of a message, decoded. */
export function readParts(raw: string): { text?: string; html?: string } {
  const found: { text?: string; html?: string } = {}
  const walk = (e: Entity, depth: number) => {
    const type = e.headers.get('content-type')?.[0] ?? 'text/plain'
    if (/^multipart\//i.test(type) && depth < 5) {
      const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1]
      if (!boundary) return
      const chunks = e.body.split(
        new RegExp(`\\r?\\n?--${boundary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?:--)?[ \\t]*\\r?\\n?`),
      )
      for (const chunk of chunks.slice(1)) if (chunk.trim()) walk(splitEntity(chunk), depth + 1)
      return
    }
    const decoded = decodeBody(e.body, e.headers.get('content-transfer-encoding')?.[0], type)
    if (/^text\/plain/i.test(type)) found.text ??= decoded
    else if (/^text\/html/i.test(type)) found.html ??= decoded
  }
  walk(splitEntity(raw), 0)
  return found
}

// ---- The server. ----

const smtpError = (code: number, text: string): SMTPServerError =>
  Object.assign(new Error(text), { responseCode: code })

export async function startSmtpStandIn(opts: SmtpStandInOptions = {}): Promise<SmtpStandIn> {
  const messages: ReceivedMail[] = []
  const keys = new Map<string, number>()
  const failure: { times: number; code: number; phase: SmtpPhase; text?: string } = {
    times: 0,
    code: 451,
    phase: 'data',
  }
  const rejected = new Map<string, number>()
  let connections = 0
  const failing = (phase: SmtpPhase): SMTPServerError | null => {
    if (failure.times <= 0 || failure.phase !== phase) return null
    failure.times--
    return smtpError(failure.code, failure.text ?? `Refused on purpose (${phase})`)
  }

  const server = new SMTPServer({
    secure: !!opts.secure,
    ...(opts.tls ? { key: opts.tls.key, cert: opts.tls.cert } : {}),
    disabledCommands: opts.tls ? [] : ['STARTTLS'],
    authOptional: !opts.auth,
    allowInsecureAuth: true,
    logger: false,
    closeTimeout: 200,
    banner: 'Sentinel test SMTP',
    size: 10 * 1024 * 1024,
    onConnect(_session, callback) {
      connections++
      callback()
    },
    onAuth(auth, _session, callback) {
      if (opts.auth && auth.username === opts.auth.username && auth.password === opts.auth.password)
        return callback(null, { user: auth.username })
      callback(smtpError(535, 'Authentication credentials invalid'))
    },
    onMailFrom(_address, _session, callback) {
      callback(failing('mail'))
    },
    onRcptTo(address, _session, callback) {
      const code = rejected.get(address.address.toLowerCase())
      if (code !== undefined) return callback(smtpError(code, `Recipient ${address.address} refused on purpose`))
      callback(failing('rcpt'))
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (c: Buffer) => chunks.push(c))
      stream.on('end', () => {
        const refusal = failing('data')
        if (refusal) return callback(refusal)
        const raw = Buffer.concat(chunks).toString('utf8')
        const { headers } = splitEntity(raw)
        const parts = readParts(raw)
        const mail: ReceivedMail = {
          at: Date.now(),
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
          headers,
          header: (name) => headers.get(name.toLowerCase())?.[0],
          subject: headers.get('subject')?.[0],
          messageId: headers.get('message-id')?.[0],
          text: parts.text,
          html: parts.html,
          secure: session.secure,
          ...(session.user ? { user: String(session.user) } : {}),
        }
        messages.push(mail)
        const key = mail.header('x-sentinel-idempotency-key')
        if (key) keys.set(key, (keys.get(key) ?? 0) + 1)
        callback(null, 'Queued')
      })
    },
  })
  server.on('error', () => {
    // A client dropping its connection is not the test's failure.
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const port = (server.server.address() as AddressInfo).port
  return {
    host: '127.0.0.1',
    port,
    messages,
    keys,
    duplicates: () => [...keys.values()].reduce((sum, n) => sum + n - 1, 0),
    failNext: (times, code = 451, phase = 'data', text) => Object.assign(failure, { times, code, phase, text }),
    rejectRecipient: (address, code) =>
      code === undefined ? void rejected.delete(address.toLowerCase()) : void rejected.set(address.toLowerCase(), code),
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of (server as unknown as { connections: Set<{ close(): void }> }).connections ?? []) {
          try {
            c.close()
          } catch {
            // Already closing.
          }
        }
        server.close(() => resolve())
      }),
  }
}
