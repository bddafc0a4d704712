// Fan-out smoke measurement with the real socket.io-client: N websocket clients in one room, each
// sends M messages at once; counts deliveries (every member gets every message, its own included).
//
// Usage: node tests/compat/fanout.mjs <server url> [sockets=200] [messages each=10]
// Exits 0 when every delivery arrived within 60 s. Not part of the test suite: a measurement, and
// the client (one Node process) is usually the bottleneck.

import { io } from 'socket.io-client';

const [base, n = '200', m = '10'] = process.argv.slice(2);
const N = Number(n);
const M = Number(m);

async function post(path, body, user) {
  const headers = { 'content-type': 'application/json' };
  if (user) {
    headers['x-auth-token'] = user.token;
    headers['x-session-id'] = user.sessionId;
  }
  const res = await fetch(base + path, { method: 'POST', headers, body: JSON.stringify(body) });
  return res.json();
}

const stamp = Date.now();
const users = await Promise.all(
  [...Array(N)].map(async (_, i) => {
    const r = await post('/api/auth/register', { name: `user${i}`, email: `user${i}-${stamp}@example.com`, password: 'secret123' });
    return { token: r.token, sessionId: r.sessionId };
  }),
);
const room = (await post('/api/rooms', { name: 'fanout' }, users[0])).data._id;
await Promise.all(users.map((u) => post(`/api/rooms/${room}/join`, {}, u)));
const sockets = await Promise.all(
  users.map(
    (auth) =>
      new Promise((resolve, reject) => {
        const s = io(base, { auth, transports: ['websocket'], reconnection: false });
        s.once('connect', () => resolve(s));
        s.once('connect_error', reject);
      }),
  ),
);
await Promise.all(sockets.map((s) => new Promise((resolve) => { s.once('joinRoomSuccess', resolve); s.emit('joinRoom', room); })));

let got = 0;
const want = N * N * M;
const started = Date.now();
const done = new Promise((resolve) =>
  sockets.forEach((s) => s.on('message', (msg) => { if (msg.type === 'text' && ++got === want) resolve(); })),
);
for (let k = 0; k < M; k++) sockets.forEach((s, i) => s.emit('chatMessage', { room, type: 'text', content: `hi ${i} ${k}` }));
await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 60_000))]);
const ms = Date.now() - started;
console.log(`${N} sockets, ${N * M} messages, ${got}/${want} deliveries in ${ms} ms (${Math.round((got / ms) * 1000)}/s)`);
sockets.forEach((s) => s.close());
process.exit(got === want ? 0 : 1);
