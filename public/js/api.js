/*
 * Calls to Sentinel's API with the key in a header (never in a URL), JSON in and out, and one
 * error type. A 401 means the key no longer works: the session module is told, and signs out.
 */
import { state } from './state.js'

export class ApiError extends Error {
  constructor(status, message) {
    super(message)
    this.status = status
  }
}

let onUnauthorized = () => {}
/** Called with a message when the server refuses the key (401). */
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn
}

export async function api(path, options) {
  const opts = options || {}
  const headers = { Accept: 'application/json', Authorization: `Bearer ${state.key}` }
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json'
  let res
  try {
    res = await fetch(path, {
      method: opts.method || 'GET',
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      cache: 'no-store',
      credentials: 'omit',
    })
  } catch {
    throw new ApiError(0, 'network error')
  }
  let body = null
  const text = await res.text()
  if (text) {
    try {
      body = JSON.parse(text)
    } catch {
      body = null
    }
  }
  if (!res.ok) {
    const msg = (body && (body.message || body.error)) || `HTTP ${res.status}`
    if (res.status === 401 && !opts.allow401) onUnauthorized('Your API key was refused. Sign in again.')
    throw new ApiError(res.status, typeof msg === 'string' ? msg : `HTTP ${res.status}`)
  }
  return body
}

/**
 * A GET whose answer is a file (CSV, Markdown), with the key in its header like every call: the
 * body as a Blob, and the filename the server suggests (Content-Disposition), if any.
 */
export async function apiBlob(path, accept) {
  let res
  try {
    res = await fetch(path, {
      headers: { Accept: accept || '*/*', Authorization: `Bearer ${state.key}` },
      cache: 'no-store',
      credentials: 'omit',
    })
  } catch {
    throw new ApiError(0, 'network error')
  }
  if (!res.ok) {
    let msg = `HTTP ${res.status}`
    try {
      const body = await res.json()
      msg = (body && (body.message || body.error)) || msg
    } catch {
      // Not JSON: the status says enough.
    }
    if (res.status === 401) onUnauthorized('Your API key was refused. Sign in again.')
    throw new ApiError(res.status, String(msg))
  }
  const disposition = res.headers.get('content-disposition') || ''
  const m = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition)
  let filename = null
  try {
    filename = m ? decodeURIComponent(m[1]) : null
  } catch {
    // A malformed name: the caller's own name is used.
  }
  return { blob: await res.blob(), filename }
}
