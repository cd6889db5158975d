import net from 'node:net'

function tryPort(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer()
    srv.unref()
    srv.once('error', () => resolve(false))
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)))
  })
}

/**
 * A TCP port free on 127.0.0.1 right now, from 20000 to 40000: Motia's Workbench opens its HMR
 * socket at 21678 + port, which must stay a valid port, and that one has to be free too.
 */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20000 + Math.floor(Math.random() * 20000)
    if ((await tryPort(port)) && (await tryPort(port + 21678))) return port
  }
  throw new Error('no free port found')
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Polls `fn` until it returns a truthy value or the deadline passes. */
export async function waitFor<T>(
  fn: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  opts: { timeoutMs: number; intervalMs?: number; what: string },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs
  let lastError: unknown
  for (;;) {
    try {
      const v = await fn()
      if (v) return v as T
    } catch (err) {
      lastError = err
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${opts.timeoutMs} ms waiting for ${opts.what}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`,
      )
    await sleep(opts.intervalMs ?? 100)
  }
}
