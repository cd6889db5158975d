/**
 * The long-lived part of Sentinel, living in Motia's main process (wired in motia.config.ts):
 * the Docker event watcher with the container fast path, recovery of open incidents after a
 * restart, and the routes that must hold state or answer without a step process (/healthz).
 */
import path from 'node:path'
import type { IncomingHttpHeaders, Server } from 'node:http'
import type { Express } from 'express'
import { apiStepsRouter, checkApiSteps, type LoadedApiStep } from './http/api-steps'
import { frontDoor, rawBodyOf } from './http/front-door'
import { sameSecret } from '../platform/auth/presented-key'
import { routeTable } from '../platform/http/routes'
import { safeRouter } from '../platform/http/safe-router'
import { bindPortToHost, guardWebSockets, type SocketServerLike } from '../platform/http/websocket-gate'
import { mountAlertmanager } from './http/alertmanager'
import { mountPublic } from '../platform/http/static'
import { mountStream } from './http/stream-routes'
import { type ChaosEngine, createChaosEngine } from '../chaos/engine'
import { monitorFromConfig } from '../observe/intake'
import { liveSampleReaderFromConfig, startLiveSampler, type LiveSampler } from '../observe/live-sampler'
import { healthScoresForMetrics } from '../observe/health/scores'
import { verifyStreamToken } from '../platform/auth/index'
import { createStreamHub } from '../platform/stream/hub'
import { ContainerStatusFeed, type ListedContainer } from '../platform/stream/containers'
import { createMetrics } from '../platform/telemetry/metrics'
import { shutdownTelemetry } from '../platform/telemetry/tracing'
import { checkApiRequest, keyStore } from '../platform/http/auth-context'
import { streamGrantPolicy } from '../platform/stream/grant-policy'
import { purgeQuarantine } from '../actions/clean-sandbox/index'
import { Approvals } from '../approve/approvals'
import { acknowledgeFromSlack } from '../approve/acknowledge'
import { openApiDocument } from './openapi'
import { createSlackApprovals, type SlackApprovals } from '../approve/slack/app'
import { createRedisReplayStore } from '../approve/slack/verify'
import { getConfig, type SentinelConfig } from '../platform/config/index'
import { dockerSocketPresent, getDocker, isWatchedLabels } from '../platform/docker/client'
import { DockerEventWatcher } from '../platform/docker/watcher'
import { ContainerEventHandler } from '../act/container-events'
import { recoverOpenIncidents } from '../act/recovery'
import { SwarmServiceWatcher } from '../observe/swarm-services'
import { DeployController, promqlReader } from '../deploy/controller'
import { DeployStore } from '../deploy/store'
import { FleetController } from '../fleet/controller'
import { engineDuty, Leadership } from '../platform/lease/index'
import { ClusterRegistry, clusterView } from '../platform/lease/cluster'
import { healthReport } from '../observe/health/index'
import { listNodes } from '../report/nodes'
import { AuditLog } from '../platform/store/audit'
import { ExecutionStore } from '../platform/store/executions'
import { IncidentStore } from '../platform/store/incidents'
import { TOPICS } from '../platform/events/topics'
import { getRedis } from '../platform/store/redis'
import { STORE_RETRY_AFTER_SECONDS, storeUnavailableBody } from '../platform/store/unavailable'
import { logTo } from '../platform/telemetry/log'
import { metricsRecorder } from '../platform/telemetry/metrics'
import { readEnvironment } from '../platform/config/index'
import {
  notificationsStatus,
  prepareNotifications,
  startNotifications,
  type PreparedNotifications,
} from '../notify/index'
import type { Notifier } from '../notify/notifier'
import { SilenceStore } from '../notify/silences'
import { closeHistoryArchive, historyArchive } from '../history/archive/open'
import { startArchiver, type Archiver } from '../history/archiver'
import { startRetention, type Retention } from '../history/retention'
import { postmortemDeps, postmortemsOnArchive } from '../history/postmortem'

/** What the runtime needs from Motia: a way to put events into the flow. */
export interface FlowEmitter {
  emit(event: { topic: string; data: unknown; traceId: string; flows?: string[] }): Promise<void>
}

/** The parts of Motia's node-redis client that the guard uses. */
export interface MotiaRedisClient {
  isOpen: boolean
  on(event: 'error', listener: (err: Error) => void): unknown
  connect(): Promise<unknown>
}

export const FLOW = 'sentinel'
const POSITION_KEY = 'sentinel:docker:events:position'

export class SentinelRuntime {
  readonly config: SentinelConfig = getConfig()
  readonly redis = getRedis()
  readonly store = new IncidentStore(this.redis)
  readonly executions = new ExecutionStore(this.redis)
  readonly audit = new AuditLog(this.redis)
  private readonly log = logTo('runtime')
  /** The engine duty's watcher (only while this controller leads it). */
  watcher?: DockerEventWatcher
  /** This host's container events for the dashboards' live cards, on every controller. */
  private feedWatcher?: DockerEventWatcher
  leadership?: Leadership
  private cluster?: ClusterRegistry
  private clusterTimer?: NodeJS.Timeout
  /** This controller among several on one Redis: its host's node name and its port. */
  readonly controllerId = `${this.config.NODE_NAME}:${this.config.PORT}`
  chaos?: ChaosEngine
  containerEvents?: ContainerEventHandler
  /** The swarm duty's watcher of labelled services (only while this controller leads it). */
  swarmWatcher?: SwarmServiceWatcher
  /** Canary deploys under way (src/deploy/), driven by the controller leading the `deploys` duty. */
  deploys?: DeployController
  private emitter?: FlowEmitter
  private started = false
  private notifications?: PreparedNotifications
  private notifier?: Notifier | null

  /**
   * The routing file read and every receiver's secrets checked (throws NotifyConfigError naming
   * the lines): called at start, before the environment loses the secrets step processes must
   * not inherit. Memoised: Motia loads motia.config.ts more than once.
   */
  prepareNotifications(): PreparedNotifications {
    this.notifications ??= prepareNotifications(
      this.config,
      { redis: this.redis },
      readEnvironment(process.env, this.config.projectRoot),
    )
    return this.notifications
  }

  /** What GET /api/notifications and /healthz say of the notifications. */
  async notificationsStatus(limit?: number) {
    return notificationsStatus(this.redis, this.prepareNotifications().config, limit)
  }
  /** The live stream (SSE) every dashboard listens to; step processes reach it through Redis. */
  readonly hub = createStreamHub({
    verifyToken: (token) => {
      const t = verifyStreamToken(token)
      return t.ok ? { ok: true, role: t.role, keyId: t.keyId, expiresAt: t.expiresAt } : { ok: false }
    },
    // Ends a stream (event `reauth`) when its key is revoked, or STREAM_MAX_SECONDS after its token expired.
    recheckGrant: streamGrantPolicy({
      keyExists: (keyId) => keyStore().entries.some((k) => k.id === keyId),
      maxSecondsAfterExpiry: this.config.STREAM_MAX_SECONDS,
    }),
    log: (msg, fields) => logTo('stream')('info', msg, fields),
  })
  readonly containerFeed = new ContainerStatusFeed({
    isWatched: (labels) => isWatchedLabels(labels),
    publish: (status) => {
      this.hub.publish('container', status)
    },
  })

  async emit(topic: string, data: Record<string, unknown>, traceId: string): Promise<void> {
    if (!this.emitter) throw new Error('the flow is not connected yet')
    await this.emitter.emit({ topic, data, traceId, flows: [FLOW] })
  }

  /** Starts the watcher and recovery; called once the Motia event adapter exists. */
  start(emitter: FlowEmitter): void {
    if (this.started) return
    this.started = true
    // The last line of defence, not the first (routes are guarded: src/platform/http/safe-router.ts): a
    // promise rejected where nobody awaited it is a bug to log, not a reason to stop healing.
    process.on('unhandledRejection', (reason) => {
      this.log('error', 'unhandled promise rejection (a bug: please report it)', {
        error: reason instanceof Error ? reason.stack?.split('\n').slice(0, 4).join(' | ') : String(reason),
      })
    })
    this.metrics.catch((err) => this.log('error', 'metrics registry failed', { error: (err as Error).message }))
    this.emitter = emitter
    // Duties that must run once while several controllers share this Redis: each has one leader
    // (src/platform/lease/); the rest (the API, the dashboard, the flow's steps) runs everywhere.
    this.leadership = new Leadership({
      redis: this.redis,
      controllerId: this.controllerId,
      leaseMs: this.config.LEADER_LEASE_SECONDS * 1000,
      log: logTo('leadership'),
      onChange: (duty, leading, _token, why) => {
        void this.touchCluster()
        if (leading || why !== 'stopping')
          this.metrics.then((m) => m.leaseChanged(duty, leading ? 'acquired' : 'lost')).catch(() => {})
      },
    })
    // Step processes inherit it: GET /api/cluster says which controller answered.
    process.env.SENTINEL_LEASE_HOLDER = this.leadership.holder
    this.cluster = new ClusterRegistry({
      redis: this.redis,
      id: this.controllerId,
      holder: this.leadership.holder,
      port: this.config.PORT,
      leaseMs: this.config.LEADER_LEASE_SECONDS * 1000,
    })
    // The fleet's node agents (src/fleet/): their events feed fast paths like this host's, and
    // their heartbeats are watched. With no agent announced, this costs one SMEMBERS every 2 s.
    this.leadership.add({
      name: 'fleet',
      start: () => {
        this.fleet = new FleetController({
          redis: this.redis,
          handlerDeps: {
            config: this.config,
            store: this.store,
            executions: this.executions,
            audit: this.audit,
            emit: (t, d, id) => this.emit(t, d, id),
          },
          log: logTo('fleet'),
        })
        this.fleet.start()
      },
      stop: async () => {
        const fleet = this.fleet
        this.fleet = undefined
        await fleet?.stop()
      },
    })
    void this.hub
      .attachLog(this.redis)
      .catch((err) =>
        this.log('error', 'the live stream could not attach to its log in Redis', { error: (err as Error).message }),
      )
    this.sseGauge = setInterval(() => {
      this.metrics.then((m) => m.setSseClients(this.hub.clientCount())).catch(() => {})
    }, 5000)
    this.sseGauge.unref()
    if (dockerSocketPresent()) {
      void this.seedContainers()
      // Every controller's dashboards see this host's containers live; only the engine duty's
      // leader handles their deaths (below).
      this.feedWatcher = new DockerEventWatcher({
        onEvent: async (e) => this.containerFeed.onEvent(e),
        loadPosition: async () => undefined,
        savePosition: async () => {},
        log: logTo('docker-feed'),
      })
      this.feedWatcher.start()
      this.leadership.add({
        name: engineDuty(this.config.NODE_NAME),
        start: () => this.startEngineDuty(),
        stop: () => this.stopEngineDuty(),
      })
      // Watched Swarm services (src/observe/swarm-services.ts), when this engine is a swarm manager:
      // one watcher per engine among the controllers; an incident is one per service whoever opens it.
      if (this.config.SWARM_WATCH)
        this.leadership.add({
          name: `swarm:${this.config.NODE_NAME}`,
          start: () => {
            this.swarmWatcher = new SwarmServiceWatcher({
              config: this.config,
              store: this.store,
              audit: this.audit,
              emit: (t, d, id) => this.emit(t, d, id),
              log: logTo('swarm-services'),
              // A service under a canary deploy is the deploy's to judge (its gate rolls back on
              // failure): no second incident from the watcher meanwhile. The deploy may be driven
              // by another controller, so this asks Redis.
              busy: async (serviceId) =>
                (await new DeployStore(this.redis).active()).some((d) => d.serviceId === serviceId),
            })
            this.swarmWatcher.start()
          },
          stop: () => {
            this.swarmWatcher?.stop()
            this.swarmWatcher = undefined
          },
        })
      // Canary deploys (POST /api/services/:name/deploy): their state is in Redis, so the controller
      // that takes the duty over after a restart or a failover carries each one on where it stood.
      this.leadership.add({
        name: 'deploys',
        start: () => {
          this.deploys = new DeployController({
            redis: this.redis,
            store: this.store,
            audit: this.audit,
            config: this.config,
            log: logTo('deploys'),
            queryPromql: promqlReader(this.config.PROMETHEUS_URL),
          })
          this.deploys.start()
        },
        stop: async () => {
          const deploys = this.deploys
          this.deploys = undefined
          await deploys?.stop()
        },
      })
    } else {
      this.log('warn', `no Docker socket at ${this.config.DOCKER_SOCKET}: containers are not watched`)
      // Incidents left verifying by a controller that died are resumed by one controller.
      this.leadership.add({ name: 'recovery', start: () => this.recover(undefined), stop: () => {} })
    }
    void this.releaseStaleCronLocks().catch((err) =>
      this.log('warn', 'could not check cron locks', { error: (err as Error).message }),
    )
    // Chaos stays off until POST /api/chaos/start writes a desired state; the engine polls for it.
    this.leadership.add({
      name: 'chaos',
      start: () => {
        this.chaos = createChaosEngine({
          redis: this.redis,
          audit: this.audit,
          config: {
            sandboxDir: path.resolve(this.config.projectRoot, this.config.SANDBOX_DIR),
            watchLabel: this.config.WATCH_LABEL,
          },
          log: logTo('chaos'),
        })
        void this.chaos
          .start()
          .catch((err) => this.log('error', 'chaos engine failed to start', { error: (err as Error).message }))
      },
      stop: async () => {
        const chaos = this.chaos
        this.chaos = undefined
        await chaos
          ?.stop()
          .catch((err) => this.log('warn', 'chaos engine stop failed', { error: (err as Error).message }))
      },
    })
    // Files cleaned out of the sandbox wait in quarantine (for rollback) until their retention ends.
    this.leadership.add({
      name: 'quarantine-purge',
      start: () => {
        this.purgeTimer = setInterval(() => {
          purgeQuarantine().catch((err) =>
            this.log('warn', 'quarantine purge failed', { error: (err as Error).message }),
          )
        }, 15 * 60_000)
        this.purgeTimer.unref()
      },
      stop: () => clearInterval(this.purgeTimer),
    })
    this.leadership.start()
    this.clusterTimer = setInterval(
      () => void this.touchCluster(),
      Math.max(1000, (this.config.LEADER_LEASE_SECONDS * 1000) / 3),
    )
    this.clusterTimer.unref()
    void this.touchCluster()
    this.notifier = startNotifications(this.prepareNotifications(), {
      redis: this.redis,
      getIncident: (id) => this.store.get(id),
      silences: new SilenceStore(this.redis),
      metrics: metricsRecorder(this.redis, { log: logTo('metrics') }),
      log: logTo('notify'),
      publicUrl: this.config.SENTINEL_PUBLIC_URL,
    })
    void this.startSlack().catch((err) =>
      this.log('error', 'Slack approvals could not start', { error: (err as Error).message }),
    )
    // The incident archive (src/history/): every incident write and audit entry copied to SQL, and
    // archived closed incidents past INCIDENT_RETENTION_DAYS taken out of Redis (at start, then
    // hourly). An archive that cannot be opened is retried in the background: healing never waits
    // for it, and the changes wait in Redis (sentinel:archive:pending) meanwhile.
    const archiveLog = logTo('archive')
    const postmortems = postmortemDeps(this.config, this.redis)
    this.archiver = startArchiver({
      redis: this.redis,
      db: historyArchive,
      log: archiveLog,
      // Critical and escalated incidents get their postmortem once closed (idempotent: a version
      // archived twice after a crash finds it written).
      onArchived: (incidents, db) =>
        postmortemsOnArchive(db, incidents, postmortems).catch((err) =>
          archiveLog('warn', 'postmortems not written', { error: (err as Error).message }),
        ),
    })
    this.retention = startRetention({
      redis: this.redis,
      db: historyArchive,
      retentionDays: this.config.INCIDENT_RETENTION_DAYS,
      log: archiveLog,
    })
    // The dashboard's charts move every LIVE_SAMPLE_SECONDS, between the monitor's ticks.
    this.liveSampler = startLiveSampler({
      intervalSeconds: this.config.LIVE_SAMPLE_SECONDS,
      sample: liveSampleReaderFromConfig(this.config),
      publish: (s) => this.hub.publish('sample', s),
      log: logTo('live-sampler'),
    })
  }

  /**
   * What /healthz says of the archive (public: no location, no error text). Down is reported, not
   * failed: healing goes on and the changes wait in Redis until it is back.
   */
  archiveHealth() {
    const a = this.archiver?.status()
    if (!a) return { status: 'not_started' as const }
    return {
      status: a.outageSince ? ('down' as const) : a.lastPassAt ? ('up' as const) : ('starting' as const),
      database: this.config.DATABASE_URL ? 'postgres' : 'sqlite',
      pending: a.pending,
      lastPassAt: a.lastPassAt,
      downSince: a.outageSince,
    }
  }

  private purgeTimer?: NodeJS.Timeout
  fleet?: FleetController
  private sseGauge?: NodeJS.Timeout
  archiver?: Archiver
  retention?: Retention
  private liveSampler?: LiveSampler

  /**
   * Motia's cron adapter holds a lock per job for 5 minutes; a Sentinel killed mid-tick leaves it
   * behind, and the monitor would stay silent for up to 5 minutes after the restart. A lock taken
   * before this process started belongs to a process that is gone (one Sentinel per Redis).
   */
  /**
   * The engine duty: this host's Docker events handled, deaths healed, from where the last leader
   * left off (the saved position; a takeover replays what happened in between), every action
   * fenced by this term's token. Open incidents are resumed.
   */
  private startEngineDuty(): void {
    const fence = this.leadership!.fence(engineDuty(this.config.NODE_NAME)) ?? undefined
    const handler = new ContainerEventHandler({
      config: this.config,
      store: this.store,
      executions: this.executions,
      audit: this.audit,
      emit: (t, d, id) => this.emit(t, d, id),
      log: logTo('container-events'),
      ...(fence ? { fence } : {}),
    })
    this.containerEvents = handler
    this.watcher = new DockerEventWatcher({
      onEvent: (e) => handler.handle(e),
      loadPosition: async () => {
        const v = await this.redis.get(POSITION_KEY)
        return v ? Number(v) : undefined
      },
      savePosition: async (t) => {
        await this.redis.set(POSITION_KEY, String(t))
      },
      log: logTo('docker-watcher'),
      onFirstConnect: (gap) => {
        handler
          .sweepDead(gap)
          .then((r) => {
            if (r.opened.length || r.leftAlone.length)
              this.log('info', 'checked watched containers found dead at start-up', r)
          })
          .catch((err) =>
            this.log('warn', 'could not check watched containers for deaths before start-up', {
              error: (err as Error).message,
            }),
          )
      },
    })
    this.watcher.start()
    this.recover(handler)
  }

  private async stopEngineDuty(): Promise<void> {
    const [watcher, handler] = [this.watcher, this.containerEvents]
    this.watcher = undefined
    this.containerEvents = undefined
    handler?.stop()
    await watcher?.stop()
  }

  private recover(containerEvents: ContainerEventHandler | undefined): void {
    void recoverOpenIncidents({
      store: this.store,
      containerEvents,
      emit: (t, d, id) => this.emit(t, d, id),
      log: logTo('recovery'),
    })
      .then((n) => n && this.log('info', `resumed ${n} open incident(s)`))
      .catch((err) => this.log('error', 'recovery failed', { error: (err as Error).message }))
  }

  /** This controller's record in the cluster registry (GET /api/cluster), with the duties it leads. */
  private async touchCluster(): Promise<void> {
    if (!this.cluster || !this.leadership) return
    await this.cluster
      .touch(this.leadership.leading())
      .catch((err) => this.log('warn', 'could not update the cluster record', { error: (err as Error).message }))
  }

  private async releaseStaleCronLocks(): Promise<void> {
    // Another live controller's lock is not stale: only a controller alone on this Redis clears them.
    const others = (await clusterView(this.redis, [])).members.filter((m) => m.holder !== this.leadership?.holder)
    if (others.length) return
    const startedAt = Date.now() - process.uptime() * 1000
    const keys: string[] = []
    let cursor = '0'
    do {
      const [next, batch] = await this.redis.scan(cursor, 'MATCH', 'motia:cron:lock:*', 'COUNT', 500)
      cursor = next
      keys.push(...batch)
    } while (cursor !== '0')
    for (const key of keys) {
      const raw = await this.redis.get(key)
      let acquiredAt = NaN
      try {
        acquiredAt = Number(JSON.parse(raw ?? '{}').acquiredAt)
      } catch {
        continue
      }
      if (acquiredAt < startedAt && (await this.redis.get(key)) === raw) {
        await this.redis.del(key)
        this.log('info', 'released a cron lock left by a previous process', { key })
      }
    }
  }

  private async seedContainers(): Promise<void> {
    try {
      const docker = await getDocker()
      const { key, value } = this.config.WATCH_LABEL
      const listing = (await docker.listContainers({
        all: true,
        filters: { label: [`${key}=${value}`] },
      })) as ListedContainer[]
      this.containerFeed.seed(listing)
    } catch (err) {
      this.log('warn', 'could not list watched containers for the dashboard', { error: (err as Error).message })
    }
  }
  /** The Prometheus registry; step processes feed it through Redis. */
  readonly metrics = createMetrics({
    redis: this.redis,
    pendingApprovals: async () => (await new Approvals(this.store, this.redis).pending()).length,
    archivePending: () => this.store.archivePendingCount(),
    healthScores: () =>
      healthScoresForMetrics({
        config: this.config,
        store: this.store,
        checks: async () => (await this.monitor().latestStatus()).checks,
      }),
    leading: () => this.leadership?.leading() ?? {},
    // The node list GET /api/nodes serves, for sentinel_node_up and the heartbeat ages.
    nodes: async () =>
      (await listNodes(this.redis, { localNode: this.config.NODE_NAME })).map((n) => ({
        node: n.name,
        state: n.state,
        lastBeatAgeSeconds: n.lastBeatAgeSeconds,
      })),
    log: logTo('metrics'),
  })
  private monitorInstance?: ReturnType<typeof monitorFromConfig>
  private monitor() {
    return (this.monitorInstance ??= monitorFromConfig())
  }
  private slackRouter?: SlackApprovals['router']

  private async startSlack(): Promise<void> {
    const c = this.config
    if (!(c.SLACK_BOT_TOKEN && c.SLACK_SIGNING_SECRET && c.SLACK_CHANNEL)) return
    const log = logTo('slack')
    const approvals = new Approvals(this.store, this.redis)
    const slack = await createSlackApprovals({
      botToken: c.SLACK_BOT_TOKEN,
      signingSecret: c.SLACK_SIGNING_SECRET,
      channel: c.SLACK_CHANNEL,
      apiUrl: c.SLACK_API_URL,
      userRoles: c.SLACK_USER_ROLES ?? '',
      getIncident: (id) => this.store.get(id),
      replay: createRedisReplayStore(this.redis),
      onAcknowledge: acknowledgeFromSlack({ store: this.store, audit: this.audit }),
      onDecision: async (d) => {
        const r = await approvals.decide(d.incidentId, { decision: d.decision, by: d.by, role: d.role })
        if (r.kind === 'not_found') return { conflict: 'incident not found' }
        if (r.kind === 'not_pending') return { conflict: `already ${r.status}` }
        if (r.kind === 'forbidden') return { conflict: `needs ${r.needed}` }
        await this.audit.append({
          kind: `approval.${d.decision === 'approve' ? 'approved' : 'rejected'}`,
          actor: d.by,
          incidentId: d.incidentId,
          resource: r.incident.resource.name,
          outcome: d.decision,
          data: { role: d.role, via: 'slack' },
        })
        if (d.decision === 'approve')
          await this.emit(TOPICS.remediationApproved, { incidentId: d.incidentId }, d.incidentId)
        return { ok: true }
      },
      log: (level, msg, data) => log(level, msg, data),
    })
    this.slackRouter = slack.router
    try {
      await slack.verify()
    } catch (err) {
      log('warn', 'Slack token check failed; approvals still work through the API', { error: (err as Error).message })
    }
  }

  async stop(): Promise<void> {
    if (this.redisGuard) clearInterval(this.redisGuard)
    if (this.purgeTimer) clearInterval(this.purgeTimer)
    if (this.sseGauge) clearInterval(this.sseGauge)
    await this.retention?.stop()
    // A few seconds to archive what is quick; the rest stays marked in Redis for the next start.
    await this.archiver?.stop({ drainMs: 5000 })
    await closeHistoryArchive()
    await this.liveSampler?.stop()
    await this.notifier?.stop()
    await this.hub.close()
    await shutdownTelemetry()
    // Every duty stopped and its lease given up, so another controller takes it at once.
    await this.leadership?.stop()
    if (this.clusterTimer) clearInterval(this.clusterTimer)
    await this.cluster?.leave().catch(() => {})
    await this.feedWatcher?.stop()
  }

  private redisGuard?: NodeJS.Timeout

  /**
   * Motia's own Redis client has no error listener (an outage would crash the process) and stops
   * reconnecting after ten tries (an outage of a few seconds would leave it dead). Sentinel keeps
   * it alive: errors are logged, and a closed client is reconnected while /healthz says 503.
   */
  guardMotiaRedis(client: MotiaRedisClient | undefined): void {
    if (!client || this.redisGuard) return
    let lastLog = 0
    client.on('error', (err) => {
      if (Date.now() - lastLog > 5000) {
        lastLog = Date.now()
        this.log('warn', 'Motia Redis connection error', { error: err.message })
      }
    })
    let connecting = false
    this.redisGuard = setInterval(() => {
      if (client.isOpen || connecting) return
      connecting = true
      client
        .connect()
        .then(() => this.log('info', 'Motia Redis connection restored'))
        .catch(() => {})
        .finally(() => {
          connecting = false
        })
    }, 2000)
    this.redisGuard.unref()
  }

  private apiSteps: LoadedApiStep[] = []

  /** The API steps the main process serves (the launcher loads them before the server exists). */
  serveApiSteps(steps: LoadedApiStep[]): void {
    checkApiSteps(steps)
    this.apiSteps = steps
  }

  private authenticate = (headers: IncomingHttpHeaders) => checkApiRequest(headers, 'read')

  /** WebSocket upgrades and frames: see src/platform/http/websocket-gate.ts. */
  guardServer(server: Server, socketServer: SocketServerLike | undefined): void {
    guardWebSockets(server, socketServer, {
      workbench: this.config.WORKBENCH,
      trustProxy: this.config.TRUST_PROXY,
      authenticate: this.authenticate,
      log: logTo('websocket'),
    })
  }

  /** Runs `start` (the Workbench's set-up) with every listen on `port` bound to `host`. */
  async withListenHost<T>(port: number, host: string, start: () => Promise<T>): Promise<T> {
    bindPortToHost(port, host)
    return start()
  }

  /**
   * Every route on the port, behind one front door (src/app/http/front-door.ts): the public ones, then
   * Sentinel's API, all served by this process; Motia's own routes only as the door allows.
   */
  mountRoutes(app: Express): void {
    app.disable('x-powered-by')
    // A strong ETag is a hash of every response body: CPU on the hot path for a cache no API client uses.
    app.set('etag', false)
    const publicRoutes = safeRouter()
    publicRoutes.get('/healthz', async (_req, res) => {
      const report = await healthReport(this.config, this.redis, this.feedWatcher?.status)
      const n = this.prepareNotifications().config
      // Notifications being off is said, not failed: a single-host Sentinel may page nobody on purpose.
      const notifications = n.route
        ? { enabled: true, receivers: n.receivers.length }
        : { enabled: false, why: n.off ?? 'no route' }
      // This controller and the duties it leads (its peers: GET /api/cluster, for viewers).
      const controller = { id: this.controllerId, leading: Object.keys(this.leadership?.leading() ?? {}).sort() }
      res
        .status(report.status === 'ok' ? 200 : 503)
        .json({ ...report, notifications, archive: this.archiveHealth(), controller })
    })
    publicRoutes.get('/metrics', async (req, res) => {
      if (this.config.METRICS_TOKEN && !sameSecret(bearerToken(req.headers.authorization), this.config.METRICS_TOKEN)) {
        res.setHeader('WWW-Authenticate', 'Bearer realm="sentinel-metrics"')
        res.status(401).json({ error: 'unauthorized', message: '/metrics needs the METRICS_TOKEN bearer token' })
        return
      }
      try {
        ;(await this.metrics).handler(req, res)
      } catch (err) {
        res.status(503).json({ error: 'metrics_unavailable', message: (err as Error).message })
      }
    })
    // Slack's interactivity requests: Bolt checks the signature over the raw body the door read.
    publicRoutes.post('/slack/actions', (req, res, next) => {
      if (!this.slackRouter)
        return void res.status(404).json({ error: 'not_found', message: 'Slack approvals are not configured' })
      ;(req as unknown as { rawBody: Buffer }).rawBody = rawBodyOf(req)
      this.slackRouter(req, res, next)
    })
    mountPublic(publicRoutes, path.join(this.config.projectRoot, 'public'))

    const apiRoutes = safeRouter()
    // Every API route reads or writes the store: while Sentinel's Redis connection is down, answer
    // 503 with Retry-After at once (the OpenAPI document needs no store).
    apiRoutes.use((req, res, next) => {
      if (this.redis.status === 'ready' || req.path === '/api/openapi.json') return next()
      res.setHeader('Retry-After', String(STORE_RETRY_AFTER_SECONDS))
      res.status(503).json(storeUnavailableBody)
    })
    const openapi = openApiDocument()
    apiRoutes.get('/api/openapi.json', async (req, res) => {
      const auth = await checkApiRequest(req.headers, 'read')
      if (auth.status !== 200) {
        if (auth.retryAfter) res.setHeader('Retry-After', String(auth.retryAfter))
        return void res.status(auth.status).json({ error: auth.error, message: auth.message })
      }
      res.json(openapi)
    })
    // Every route this process serves, read from the routers at the time of the request (admin).
    apiRoutes.get('/api/routes', async (req, res) => {
      const auth = await checkApiRequest(req.headers, 'audit')
      if (auth.status !== 200) {
        if (auth.retryAfter) res.setHeader('Retry-After', String(auth.retryAfter))
        return void res.status(auth.status).json({ error: auth.error, message: auth.message })
      }
      const motiaRouter = (app as unknown as { _router?: { stack?: unknown[] } })._router
      res.json({
        routes: routeTable([
          { zone: 'public', router: publicRoutes },
          { zone: 'api', router: apiRoutes },
          { zone: 'framework', router: motiaRouter },
        ]),
        websocket: this.config.WORKBENCH ? 'admin' : 'refused',
      })
    })
    mountAlertmanager(apiRoutes, { store: this.store, audit: this.audit, emit: (t, d, id) => this.emit(t, d, id) })
    mountStream(apiRoutes, { hub: this.hub, containers: () => this.containerFeed.list() })
    if (!this.apiSteps.length)
      this.log(
        'warn',
        'no API steps were handed to the main process: start Sentinel with scripts/motia-start.mjs (npm start)',
      )
    apiRoutes.use(apiStepsRouter(this.apiSteps, (t, d, id) => this.emit(t, d, id)))

    app.use(
      frontDoor({
        maxBodyBytes: this.config.MAX_BODY_BYTES,
        corsOrigins: this.config.CORS_ORIGINS,
        trustProxy: this.config.TRUST_PROXY,
        workbench: this.config.WORKBENCH,
        publicRoutes,
        apiRoutes,
        authenticate: this.authenticate,
      }),
    )
  }
}

const bearerToken = (header: string | undefined) =>
  header && /^bearer\s+/i.test(header) ? header.replace(/^bearer\s+/i, '').trim() : undefined

const KEY = Symbol.for('sentinel.runtime')
type WithRuntime = typeof globalThis & { [KEY]?: SentinelRuntime }

/**
 * One runtime per process. Motia loads motia.config.ts twice (once for `app`, once for
 * `plugins`), so the instance lives on globalThis rather than in this module.
 */
export function getRuntime(): SentinelRuntime {
  const g = globalThis as WithRuntime
  if (!g[KEY]) g[KEY] = new SentinelRuntime()
  return g[KEY]
}
