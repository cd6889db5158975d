/**
 * Opening a page in Chromium on a machine where other tests start containers. Chromium watches the
 * host's network interfaces, and when one appears or goes (a container's veth pair, a test's own
 * bridge) it aborts the requests in flight with net::ERR_NETWORK_CHANGED: a dashboard whose
 * modules were cut off that way never starts. That is the test machine, not the dashboard, so the
 * page is loaded again (at most `tries` times); any other failure is the test's to see.
 */
import type { Page } from 'playwright-core'

const CHANGED = 'net::ERR_NETWORK_CHANGED'

export async function openPage(page: Page, url: string, tries = 3): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    let changed = false
    const onFailed = (r: { failure(): { errorText: string } | null }) => {
      if (r.failure()?.errorText === CHANGED) changed = true
    }
    page.on('requestfailed', onFailed)
    try {
      // 'load' waits for the module graph too (module scripts are deferred and delay the event).
      await page.goto(url, { waitUntil: 'load' })
    } catch (err) {
      if (!(err as Error).message.includes(CHANGED) || attempt >= tries) throw err
      changed = true
    } finally {
      page.off('requestfailed', onFailed)
    }
    if (!changed || attempt >= tries) return
  }
}

/**
 * Runs `step` (a sign-in, say: load, type the key, wait for the live stream) again when it failed
 * while Chromium cut requests off for a network change; any other failure is thrown as it is.
 */
export async function retryOnNetworkChange<T>(page: Page, step: () => Promise<T>, tries = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    let changed = false
    const onFailed = (r: { failure(): { errorText: string } | null }) => {
      if (r.failure()?.errorText === CHANGED) changed = true
    }
    page.on('requestfailed', onFailed)
    try {
      return await step()
    } catch (err) {
      if (!changed || attempt >= tries) throw err
    } finally {
      page.off('requestfailed', onFailed)
    }
  }
}
