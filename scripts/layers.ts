/**
 * The layers of src/, lowest first, and what each is for. The import test (tests/imports.test.ts)
 * enforces that a module imports only its own layer and those below it; the README's "How it is
 * built" section (scripts/structure.ts) is generated from the same list, so the two cannot differ.
 */
export const LAYERS = [
  [
    'platform',
    'what every stage stands on: configuration, Redis store, Docker, telemetry, auth, events, HTTP, streams',
  ],
  ['actions', 'the allow-listed fixes, one folder each with snapshot / execute / verify / rollback'],
  ['observe', 'readings from Prometheus or the collectors, thresholds, anomalies, alert intake'],
  ['analyze', 'the root cause: the rule analyser and the LLM (DeepSeek R1 through OpenRouter)'],
  ['decide', 'the policy: risk, route (auto, approval, escalate, defer), rate limits, freeze windows'],
  ['approve', 'approvals by operators and admins, from the API, the dashboard and Slack'],
  ['act', 'running the decided fix exactly once, and the fast path for dead containers'],
  ['verify', 'checking the fix held (the action and the metric re-measured), rolling back if not'],
  ['notify', 'pages to people: receivers, routing, the outbox, acknowledgement, escalation, silences'],
  ['report', 'the incident views the API serves'],
  ['history', 'the incident archive in SQL: history, reports, postmortems, policy replay'],
  ['chaos', 'fault injection for game days, on watched containers only'],
  ['fleet', 'node agents on many hosts: the agent process, its heartbeats, the controller side of the channel'],
  ['deploy', 'canary deploys of Swarm services: the health gate, the controller and its API'],
  ['app', 'the running process: HTTP front door, routes, streams, wiring of every layer'],
] as const

export const LAYER_NAMES: string[] = LAYERS.map(([name]) => name)
