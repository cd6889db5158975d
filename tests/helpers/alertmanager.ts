/** Alertmanager's webhook payload (version 4), for the storm test and bench. */

/**
 * One webhook call carrying `count` firing alerts over `count` fingerprints: `order(i)` picks which
 * fingerprint goes at position i (so calls can differ in order), `value(k)` an optional annotation.
 */
export function stormPayload(opts: {
  batch: number
  startsAt: string
  count?: number
  order?: (i: number) => number
  value?: (k: number) => string
}) {
  const count = opts.count ?? 100
  return {
    version: '4',
    groupKey: `storm-${opts.batch}`,
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'sentinel',
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://alertmanager.local',
    alerts: Array.from({ length: count }, (_, i) => {
      const k = opts.order ? opts.order(i) : i
      return {
        status: 'firing',
        labels: { alertname: 'StormLatency', instance: `storm-${k}:9100`, severity: 'warning' },
        annotations: (opts.value ? { value: opts.value(k) } : {}) as Record<string, string>,
        startsAt: opts.startsAt,
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: '',
        fingerprint: `5707${String(k).padStart(12, '0')}`,
      }
    }),
  }
}
