import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { dockerSpan } from './engine-api'

describe('dockerSpan', () => {
  it('names each Engine API call by its operation, with the container it names', () => {
    const cases: Array<[string, string, string, string | undefined]> = [
      ['GET', '/containers/abc123/json', 'docker.inspect', 'abc123'],
      ['GET', '/v1.43/containers/abc123/json?size=1', 'docker.inspect', 'abc123'],
      ['POST', '/containers/abc123/start?', 'docker.start', 'abc123'],
      ['POST', '/containers/web%2D1/restart?t=10', 'docker.restart', 'web-1'],
      ['POST', '/containers/abc123/update', 'docker.update', 'abc123'],
      ['POST', '/containers/create?name=x', 'docker.create', undefined],
      ['GET', '/containers/json?all=1', 'docker.list', undefined],
      ['GET', '/containers/abc123/logs?stdout=1', 'docker.logs', 'abc123'],
      ['DELETE', '/containers/abc123?force=true', 'docker.remove', 'abc123'],
      ['GET', '/events?filters=x', 'docker.events', undefined],
    ]
    for (const [method, path, name, container] of cases) {
      const span = dockerSpan(method, path)
      assert.equal(span.name, name, path)
      assert.equal(span.attrs['docker.container'], container, path)
      assert.equal(span.attrs['http.request.method'], method)
    }
  })
})
