/**
 * POST /api/nodes/:node/commands: runs a named diagnostic command (NODE_COMMANDS) inside a watched
 * container on a node, through its agent (src/fleet/commands.ts). Admins only: the `chaos`
 * permission is the one that already reaches into watched containers for admins. The output
 * streams live to admins' dashboards as it comes; the answer and the `node.command` audit entry
 * carry the exit code, the duration and the output (capped).
 */
import type { ApiRouteConfig } from 'motia'
import type { ApiStep } from '../../src/platform/events/steps'
import { protect } from '../../middlewares/api.middleware'
import { nodeCommandBody, nodeCommandPath, runNodeCommand } from '../../src/fleet/commands'
import { getConfig } from '../../src/platform/config/index'
import { parseOr400 } from '../../src/platform/http/errors'
import { caller, parseBody } from '../../src/platform/http/requests'
import { AuditLog } from '../../src/platform/store/audit'
import { getRedis } from '../../src/platform/store/redis'

export const config = {
  type: 'api',
  name: 'RunNodeCommand',
  description:
    'Run a named diagnostic command (NODE_COMMANDS, argv only) in a watched container on a node; output streams live, the audit keeps it (admin)',
  path: '/api/nodes/:node/commands',
  method: 'POST',
  emits: [],
  flows: ['sentinel'],
  middleware: protect('chaos'),
  bodySchema: nodeCommandBody,
} satisfies ApiRouteConfig

export const handler: ApiStep<typeof config> = async (req, { logger }) => {
  const { node } = parseOr400(nodeCommandPath, req.pathParams, 'path')
  const body = parseBody(config, req)
  const { keyId } = caller(req.headers)
  const result = await runNodeCommand(
    { node, command: body.command, container: body.container, actor: `key:${keyId}` },
    {
      redis: getRedis(),
      audit: new AuditLog(),
      config: getConfig(),
      log: (level, msg, data) => logger[level](msg, data),
    },
  )
  return { status: 200, body: result }
}
