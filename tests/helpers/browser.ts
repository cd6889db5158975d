/**
 * Opening the dashboard in Chromium on a machine where other tests start containers. Chromium watches
 * the host's network interfaces, and when one appears or goes (a container's veth pair, a test's own
 * bridge) it aborts the requests in flight, net::ERR_NETWORK_CHANGED among other net:: errors: a
 * dashboard whose modules were cut off that way never starts. The dashboard notices that itself
 * (public/js/boot.js marks the page `data-boot="failed"`; the main module marks it `data-ready`),
 * and so does this helper: a page that did not start while requests failed at the network level is
 * loaded again (at most `tries` times). A page that did not start with every request answered is a
 * dashboard defect, and the error says what the page reported.
 */
import type { Page } from 'playwright-core'

/** How long a loaded page may take to run its modules (a loaded machine: seconds, not tens). */
const START_MS = 15_000

type FailedRequest = { url(): string; failure(): { errorText: string } | null }

/** Watches a page's network-level failures and errors while `body` runs. */
async function watching<T>(page: Page, body: (failures: string[], errors: string[]) => Promise<T>): Promise<T> {
  const failures: string[] = []
  const errors: string[] = []
  const onFailed = (r: FailedRequest) => {
    const text = r.failure()?.errorText ?? ''
    // A navigation away aborts the old page's requests: that is not the network.
    if (text.startsWith('net::') && text !== 'net::ERR_ABORTED') failures.push(`${text} ${new URL(r.url()).pathname}`)
  }
  const onError = (e: Error) => errors.push(e.message)
  page.on('requestfailed', onFailed)
  page.on('pageerror', onError)
  try {
    return await body(failures, errors)
  } finally {
    page.off('requestfailed', onFailed)
    page.off('pageerror', onError)
  }
}

export async function openPage(page: Page, url: string, tries = 3): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const outcome = await watching(page, async (failures, errors) => {
      try {
        // 'load' waits for the module graph too (module scripts are deferred and delay the event).
        await page.goto(url, { waitUntil: 'load' })
        const state = await page
          .locator('html[data-ready="yes"], html[data-boot="failed"]')
          .first()
          .waitFor({ state: 'attached', timeout: START_MS })
          .then(() => page.evaluate(() => (globalThis as any).document.documentElement.dataset.boot ?? 'ready'))
          .catch(() => 'not started')
        if (state === 'ready') return { ok: true as const }
        return { ok: false as const, why: `the page ${state}`, failures, errors }
      } catch (err) {
        return { ok: false as const, why: (err as Error).message, failures, errors }
      }
    })
    if (outcome.ok) return
    if (outcome.failures.length === 0 || attempt >= tries) {
      throw new Error(
        `the dashboard did not start (attempt ${attempt}): ${outcome.why}; ` +
          `network failures: [${outcome.failures.join('; ')}]; page errors: [${outcome.errors.join('; ')}]`,
      )
    }
  }
}

/**
 * Runs `step` (a sign-in, say: load, type the key, wait for the live stream) again when it failed
 * while Chromium cut requests off at the network level; any other failure is thrown as it is.
 */
export async function retryOnNetworkChange<T>(page: Page, step: () => Promise<T>, tries = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const outcome = await watching(page, async (failures) => {
      try {
        return { ok: true as const, value: await step() }
      } catch (err) {
        return { ok: false as const, err, failures }
      }
    })
    if (outcome.ok) return outcome.value
    if (outcome.failures.length === 0 || attempt >= tries) throw outcome.err
  }
}
