/** Sentinel's eyes: readings, thresholds, the alert state machine and the Monitor that ties them. */
export * from './types'
export * from './checks'
export * from './tracker'
export * from './anomaly'
export * from './monitor'
