/**
 * Which routes an incident takes through the routing tree, as Alertmanager walks it: depth first,
 * the first child that matches takes the incident unless it says `continue: true`, and a route
 * none of whose children match takes it itself.
 */
import type { Route } from './config'
import { matches } from './matchers'

export function routesFor(route: Route, labels: Readonly<Record<string, string>>): Route[] {
  if (!matches(route.matchers, labels)) return []
  const taken: Route[] = []
  for (const child of route.routes) {
    const hit = routesFor(child, labels)
    if (hit.length === 0) continue
    taken.push(...hit)
    if (!child.continue) break
  }
  return taken.length ? taken : [route]
}
