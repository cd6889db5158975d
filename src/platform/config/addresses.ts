/**
 * IP addresses and CIDR blocks, for TRUST_PROXY: which peers' X-Forwarded-For is believed.
 * Uses node:net's BlockList so IPv4, IPv6 and IPv4-mapped IPv6 (::ffff:10.0.0.1, what a dual-stack
 * socket reports) are compared the way the kernel sees them.
 */
import { BlockList, isIP } from 'node:net'

export function isAddressOrCidr(item: string): boolean {
  const [addr, bits, ...rest] = item.split('/')
  if (rest.length || !isIP(addr)) return false
  if (bits === undefined) return true
  if (!/^\d{1,3}$/.test(bits)) return false
  return Number(bits) <= (isIP(addr) === 4 ? 32 : 128)
}

/** A matcher over addresses and CIDR blocks (already validated with isAddressOrCidr). */
export function addressMatcher(items: readonly string[]): (address: string | undefined) => boolean {
  if (!items.length) return () => false
  const list = new BlockList()
  for (const item of items) {
    const [addr, bits] = item.split('/')
    const family = isIP(addr) === 6 ? 'ipv6' : 'ipv4'
    if (bits === undefined) list.addAddress(addr, family)
    else list.addSubnet(addr, Number(bits), family)
  }
  return (address) => {
    if (!address) return false
    const plain = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address
    const family = isIP(plain)
    if (!family) return false
    return list.check(plain, family === 6 ? 'ipv6' : 'ipv4')
  }
}
