/**
 * bench/proxy helper: the bare Node TCP splice (accept, connect, `pipe` both ways, nothing
 * else), the ceiling any proxy written on Node's `net` sockets can reach on this machine.
 * argv: <upstream port> <listen port>.
 */
import { connect, createServer } from 'node:net';

const [upstream, listen] = process.argv.slice(2).map(Number);
createServer({ noDelay: true }, (c) => {
  const u = connect({ host: '127.0.0.1', port: upstream!, noDelay: true });
  c.pipe(u);
  u.pipe(c);
  c.on('error', () => u.destroy());
  u.on('error', () => c.destroy());
}).listen(listen!, '127.0.0.1', () => process.stdout.write('ready\n'));
