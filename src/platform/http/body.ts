/**
 * Request bodies, read once by the front door for every route: capped on the stream (a declared
 * Content-Length over the cap is refused unread; a chunked body is counted as it arrives and cut
 * off at the cap), so no route, parser or authentication ever works on more than MAX_BODY_BYTES.
 * JSON is parsed only after a nesting check: V8's parser recurses, and a body of 100 000 `[`
 * would otherwise cost a stack overflow (a 500) instead of a 400.
 */
import type { IncomingMessage } from 'node:http'

export const MAX_JSON_DEPTH = 64

export class BodyError extends Error {
  constructor(
    readonly status: 400 | 408 | 413 | 415,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

/** The declared length, or undefined for a chunked body; throws a 400 for a malformed header. */
export function declaredLength(req: IncomingMessage): number | undefined {
  const raw = req.headers['content-length']
  if (raw === undefined) return undefined
  if (!/^\d+$/.test(raw))
    throw new BodyError(
      400,
      'invalid_content_length',
      `Content-Length must be a whole number of bytes, got "${raw.slice(0, 40)}"`,
    )
  return Number(raw)
}

/** True when the request carries (or may carry) a body. */
export function hasBody(req: IncomingMessage): boolean {
  return (
    req.headers['transfer-encoding'] !== undefined ||
    (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0')
  )
}

/** Reads the whole body up to `limit` bytes; over it, a 413 (the rest is not read). */
export function readCappedBody(req: IncomingMessage, limit: number, idleMs = 30_000): Promise<Buffer> {
  const length = declaredLength(req)
  if (length !== undefined && length > limit) {
    return Promise.reject(
      new BodyError(
        413,
        'payload_too_large',
        `request bodies are limited to ${limit} bytes; this one declares ${length}`,
      ),
    )
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    let settled = false
    const timer = setTimeout(
      () => finish(new BodyError(408, 'body_timeout', `the request body did not arrive within ${idleMs / 1000} s`)),
      idleMs,
    )
    const finish = (err?: Error) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
      if (err) {
        // Nothing more is read: the caller answers and closes the connection.
        req.pause()
        reject(err)
      } else resolve(Buffer.concat(chunks, size))
    }
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > limit)
        return finish(new BodyError(413, 'payload_too_large', `request bodies are limited to ${limit} bytes`))
      chunks.push(chunk)
      timer.refresh()
    }
    const onEnd = () => finish()
    const onError = (err: Error) =>
      finish(new BodyError(400, 'body_unreadable', `the request body could not be read: ${err.message}`))
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
  })
}

/** The deepest nesting of arrays and objects in a JSON text (strings skipped), stopping past `stopAt`. */
export function jsonDepth(text: string, stopAt = MAX_JSON_DEPTH + 1): number {
  let depth = 0
  let max = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c)
        i++ // backslash: skip the escaped character
      else if (c === 0x22) inString = false
      continue
    }
    if (c === 0x22) inString = true
    else if (c === 0x5b || c === 0x7b) {
      depth++
      if (depth > max) {
        max = depth
        if (max >= stopAt) return max
      }
    } else if (c === 0x5d || c === 0x7d) depth--
  }
  return max
}

const isJsonType = (contentType: string | undefined) => {
  if (!contentType) return false
  const type = contentType.split(';')[0].trim().toLowerCase()
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'))
}

/**
 * The parsed JSON body of an API request: undefined when there is none; a 415 for a body that is
 * not declared JSON; a 400 naming the problem for malformed or too deeply nested JSON.
 */
export function parseJsonBody(raw: Buffer, contentType: string | undefined): unknown {
  if (raw.length === 0) return undefined
  if (!isJsonType(contentType)) {
    throw new BodyError(
      415,
      'unsupported_media_type',
      `request bodies must be JSON (Content-Type: application/json), got ${contentType ? `"${contentType.slice(0, 80)}"` : 'no Content-Type'}`,
    )
  }
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw)
  } catch {
    throw new BodyError(400, 'invalid_json', 'the request body is not valid UTF-8')
  }
  if (jsonDepth(text) > MAX_JSON_DEPTH)
    throw new BodyError(400, 'invalid_json', `the request body nests deeper than ${MAX_JSON_DEPTH} levels`)
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new BodyError(
      400,
      'invalid_json',
      `the request body is not valid JSON: ${(err as Error).message.slice(0, 200)}`,
    )
  }
}
