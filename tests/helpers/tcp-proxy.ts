/**
 * A TCP relay on loopback between a client and a server, that a test can cut (every connection
 * dropped, new ones refused) and restore on the same port: a network partition between one node
 * agent and the controller's Redis, with everything else untouched.
 */
import net from 'node:net'
import { freePort } from './ports'

export interface TcpProxy {
  port: number
  cut(): Promise<void>
  restore(): Promise<void>
  close(): Promise<void>
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const port = await freePort()
  const sockets = new Set<net.Socket>()
  let server: net.Server | null = null
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = net.createServer((client) => {
        const upstream = net.connect(targetPort, '127.0.0.1')
        sockets.add(client)
        sockets.add(upstream)
        const drop = () => {
          client.destroy()
          upstream.destroy()
          sockets.delete(client)
          sockets.delete(upstream)
        }
        client.on('error', drop).on('close', drop)
        upstream.on('error', drop).on('close', drop)
        client.pipe(upstream)
        upstream.pipe(client)
      })
      s.once('error', reject)
      s.listen(port, '127.0.0.1', () => resolve())
      server = s
    })
  const cut = async () => {
    const s = server
    server = null
    for (const sock of sockets) sock.destroy()
    sockets.clear()
    if (s) await new Promise<void>((r) => s.close(() => r()))
  }
  await listen()
  return { port, cut, restore: listen, close: cut }
}
