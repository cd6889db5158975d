/**
 * Who the client is, for the failed-authentication limit: the socket's peer, or, when that peer is a
 * proxy named in TRUST_PROXY, the address the trusted proxies say they were talking to.
 *
 * Every address comes out in one canonical text form (IPv4-mapped IPv6 folded to IPv4, IPv6
 * compressed and lower case, zone ids dropped), so one client cannot be counted under several
 * spellings of its address.
 */
import { isIP, SocketAddress } from 'node:net'

/** An address's canonical text, or undefined when the text is not a bare IPv4 or IPv6 address. */
export function normalizeAddress(text: string | undefined): string | undefined {
  const s = text?.trim()
  if (!s) return undefined
  const family = isIP(s)
  if (family === 4) return s
  if (family !== 6) return undefined
  // inet_pton/inet_ntop through SocketAddress: "2001:DB8:0::1" and "2001:db8::1" are one client.
  const canonical = new SocketAddress({ address: s, family: 'ipv6' }).address
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(canonical)
  return mapped ? mapped[1] : canonical
}

/**
 * The client's address.
 *
 * - The socket's peer is not trusted (or TRUST_PROXY is empty): the socket's address, whatever
 *   X-Forwarded-For says: anyone can write that header.
 * - It is trusted: X-Forwarded-For is read from the right (each proxy appends the peer it saw),
 *   skipping addresses that are themselves trusted proxies; the first untrusted address is the
 *   client. Entries further left were written by the client or by proxies we know nothing of.
 * - A malformed entry (not a bare IP: "unknown", an obfuscated id, "ip:port", an empty item)
 *   stops the walk, and the client is the last trusted hop reached: the proxy that handed us the
 *   malformed entry. That is the one address in the chain we can vouch for. Skipping the entry to
 *   read further left would believe text that no trusted proxy vouched for (a client could then
 *   pick its own address, and with it a fresh failure count, by sending "junk, 203.0.113.9"), and
 *   "unknown" would only be a worse-named shared bucket. Sharing the proxy's bucket is safe: the
 *   limit refuses only unauthenticated requests, so a valid key still passes from behind it.
 * - Every entry is a trusted proxy: the leftmost one is the client (the request began there).
 *
 * `trusted` is `addressMatcher(config.TRUST_PROXY)` from src/platform/config/addresses.ts: built once, not
 * per request. Returns 'unknown' only when the socket has no usable address (it has closed).
 */
export function clientAddress(
  socketAddress: string | undefined,
  xForwardedFor: string | string[] | undefined,
  trusted: (address: string) => boolean,
): string {
  const socket = normalizeAddress(socketAddress)
  if (!socket) return 'unknown'
  if (!trusted(socket) || xForwardedFor === undefined) return socket
  // Node joins repeated headers with ", " already; an array (from other servers) means the same.
  const entries = (Array.isArray(xForwardedFor) ? xForwardedFor.join(',') : xForwardedFor).split(',')
  let lastTrustedHop = socket
  for (let i = entries.length - 1; i >= 0; i--) {
    const hop = normalizeAddress(entries[i])
    if (!hop) return lastTrustedHop
    if (!trusted(hop)) return hop
    lastTrustedHop = hop
  }
  return lastTrustedHop
}
