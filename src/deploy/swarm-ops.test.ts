import assert from 'node:assert/strict'
import { it } from 'node:test'
import type { ServiceSpec } from '../platform/swarm/client'
import { canaryName, canarySpec, CANARY_OF_LABEL, DEPLOY_LABEL, mergeEnv } from './swarm-ops'

const WATCH_KEY = 'sentinel.watch'
process.env.WATCH_LABEL = `${WATCH_KEY}=unit-test`

const spec = (mode: 'vip' | 'dnsrr'): ServiceSpec => ({
  Name: 'web',
  Labels: { [WATCH_KEY]: 'unit-test', team: 'shop' },
  TaskTemplate: {
    ContainerSpec: { Image: 'web:1@sha256:' + 'a'.repeat(64), Env: ['A=1', 'B=2'] },
    Networks: [{ Target: 'net1', Aliases: ['www'] }],
    ForceUpdate: 3,
  },
  Mode: { Replicated: { Replicas: 6 } },
  EndpointSpec: { Mode: mode, Ports: [{ TargetPort: 8080, PublishedPort: 80 }] },
  UpdateConfig: { Parallelism: 1 },
})

it('mergeEnv replaces the variables given and keeps the others', () => {
  assert.deepEqual(mergeEnv(['A=1', 'B=2'], { B: '3', C: 'x=y' }), ['A=1', 'B=3', 'C=x=y'])
  assert.deepEqual(mergeEnv(undefined, undefined), [])
})

it('the canary copies the task template with the new image, without the watch label, ports or update config', () => {
  const original = spec('dnsrr')
  const c = canarySpec(original, { deployId: 'dep_x_0a1b2c3d', image: 'web:2', env: { B: '9' }, replicas: 1 }) as any
  assert.equal(c.Name, canaryName('web'))
  assert.equal(c.Labels[WATCH_KEY], undefined, 'the service watcher must not heal the canary')
  assert.equal(c.Labels.team, 'shop')
  assert.equal(c.Labels[DEPLOY_LABEL], 'dep_x_0a1b2c3d')
  assert.equal(c.Labels[CANARY_OF_LABEL], 'web')
  assert.equal(c.TaskTemplate.ContainerSpec.Image, 'web:2')
  assert.deepEqual(c.TaskTemplate.ContainerSpec.Env, ['A=1', 'B=9'])
  assert.deepEqual(c.Mode, { Replicated: { Replicas: 1 } })
  assert.deepEqual(c.EndpointSpec, { Mode: 'dnsrr' })
  assert.equal(c.UpdateConfig, undefined)
  // dnsrr: reachable by the service's own name, in proportion to its tasks
  assert.deepEqual(c.TaskTemplate.Networks, [{ Target: 'net1', Aliases: ['www', 'web'] }])
  // the original is left as it was
  assert.equal(original.TaskTemplate.ContainerSpec?.Env?.length, 2)
  assert.deepEqual(original.TaskTemplate.Networks, [{ Target: 'net1', Aliases: ['www'] }])
})

it('with a virtual IP the canary gets no alias of the service (it would take half the connections)', () => {
  const c = canarySpec(spec('vip'), { deployId: 'dep_x_0a1b2c3d', image: 'web:2', replicas: 2 }) as any
  assert.deepEqual(c.TaskTemplate.Networks, [{ Target: 'net1', Aliases: ['www'] }])
  assert.deepEqual(c.EndpointSpec, { Mode: 'vip' })
})
