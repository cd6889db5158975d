/**
 * Which host an alert is about, and this host's own readings (/proc/meminfo, /proc/loadavg). An
 * alert about another machine (a Prometheus `instance`, an Alertmanager `node`) must not lead to
 * acting on this machine's processes, so the analysis needs to know whether the host is this one.
 */
import { readFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { Alert } from '../../platform/store/model'
import type { Evidence } from './types'

/** The host an alert names: a node / instance / host label, or its resource when that is a host. */
export function alertNode(alert: Alert): string | undefined {
  const l = alert.labels ?? {}
  const named = l.node ?? l.instance ?? l.host ?? l.hostname
  if (named) return named
  if (alert.resource.kind === 'host') return alert.resource.name || alert.resource.id
  return undefined
}

/** The names this machine answers to: its host name (and short form), NODE_INSTANCE, loopback, its addresses. */
export function localNames(nodeInstance?: string): Set<string> {
  const names = new Set<string>(['localhost', '127.0.0.1', '::1'])
  const h = os.hostname().toLowerCase()
  names.add(h)
  names.add(h.split('.')[0])
  if (nodeInstance) {
    names.add(nodeInstance.toLowerCase())
    names.add(stripPort(nodeInstance.toLowerCase()))
  }
  for (const list of Object.values(os.networkInterfaces()))
    for (const a of list ?? []) names.add(a.address.toLowerCase())
  return names
}

function stripPort(name: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(name)
  if (bracketed) return bracketed[1]
  // host:port, but not a bare IPv6 address (several colons).
  return (name.match(/:/g) ?? []).length === 1 ? name.replace(/:\d+$/, '') : name
}

/** True when `node` names this machine (with or without a port, by name, short name or address). */
export function isThisHost(node: string | undefined, nodeInstance?: string): boolean {
  if (!node) return true
  const n = node.trim().toLowerCase()
  const names = localNames(nodeInstance)
  const bare = stripPort(n)
  return names.has(n) || names.has(bare) || names.has(bare.split('.')[0])
}

/** Memory and load of this host from /proc; whatever cannot be read is left out. */
export async function hostFromProc(procRoot = '/proc'): Promise<NonNullable<Evidence['host']>> {
  const host: NonNullable<Evidence['host']> = { cores: os.cpus().length || undefined }
  const [meminfo, loadavg] = await Promise.all([
    readFile(path.join(procRoot, 'meminfo'), 'utf8').catch(() => ''),
    readFile(path.join(procRoot, 'loadavg'), 'utf8').catch(() => ''),
  ])
  const kb = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(meminfo)
    return m ? Number(m[1]) * 1024 : undefined
  }
  const total = kb('MemTotal')
  const available = kb('MemAvailable')
  if (total) host.memTotalBytes = total
  if (available !== undefined) host.memAvailableBytes = available
  if (total && available !== undefined) host.memoryUsedPercent = Math.round((1000 * (total - available)) / total) / 10
  const [l1, l5] = loadavg.split(/\s+/).map(Number)
  if (Number.isFinite(l1) && loadavg) host.load1 = l1
  if (Number.isFinite(l5) && loadavg) host.load5 = l5
  return host
}
