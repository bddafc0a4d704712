// Compatibility check of a chat server against the real socket.io-client v4.
//
// Usage: node tests/compat/compat.mjs http://127.0.0.1:5000
//
// Registers two users over REST (Node's fetch), connects one with the default transports (long
// polling, then upgrade to websocket) and one with transports: ['websocket'], and checks: both see
// both users' messages, history paging, reactions, read receipts (to the other member only), acks,
// the AI stream, and a bad token refused at connect. Exits 0 only when every check passed; otherwise
// prints each failed check and exits 1.

import { io } from 'socket.io-client';

const base = process.argv[2];
if (!base) {
  console.error('usage: node compat.mjs <server url>');
  process.exit(2);
}

const failures = [];
const passed = [];
function check(ok, what) {
  (ok ? passed : failures).push(what);
  return ok;
}

// Give up on the whole run rather than hang a test suite.
const watchdog = setTimeout(() => {
  console.error('compat: timed out after 60 s');
  report();
}, 60_000);

function report() {
  for (const p of passed) console.log(`ok    ${p}`);
  for (const f of failures) console.log(`FAIL  ${f}`);
  console.log(`${passed.length} passed, ${failures.length} failed`);
  process.exit(failures.length === 0 ? 0 : 1);
}

async function api(path, { method = 'GET', body, user } = {}) {
  const headers = { 'content-type': 'application/json' };
  if (user) {
    headers['x-auth-token'] = user.token;
    headers['x-session-id'] = user.sessionId;
  }
  const res = await fetch(base + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json().catch(() => null);
  return { status: res.status, json };
}

async function signUp(name) {
  const email = `${name.toLowerCase()}-${Date.now()}-${Math.floor(Math.random() * 1e9)}@example.com`;
  const password = 'secret123';
  const reg = await api('/api/auth/register', { method: 'POST', body: { name, email, password } });
  check(reg.status === 201, `register ${name} -> 201 (got ${reg.status})`);
  const login = await api('/api/auth/login', { method: 'POST', body: { email, password } });
  check(login.status === 200 && login.json?.token, `login ${name} -> 200 with a token`);
  return { name, id: login.json.user._id, token: login.json.token, sessionId: login.json.sessionId };
}

function connect(user, options = {}) {
  return new Promise((resolve, reject) => {
    const socket = io(base, {
      auth: { token: user.token, sessionId: user.sessionId },
      reconnection: false,
      timeout: 5000,
      ...options,
    });
    // Which transport the Engine.IO handshake used: the manager's `open` fires before any upgrade
    // probe starts (the upgrade may well finish before the Socket.IO CONNECT is answered).
    socket.io.once('open', () => {
      socket.openedOver = socket.io.engine.transport.name;
    });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (err) => {
      socket.close();
      reject(err);
    });
  });
}

// Resolves with the first `event` payload that satisfies `pred`, or null after `ms`.
function waitFor(socket, event, pred = () => true, ms = 5000) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.off(event, handler);
      resolve(null);
    }, ms);
    function handler(payload) {
      if (pred(payload)) {
        clearTimeout(timer);
        socket.off(event, handler);
        resolve(payload);
      }
    }
    socket.on(event, handler);
  });
}

function collect(socket, event) {
  const seen = [];
  socket.on(event, (payload) => seen.push(payload));
  return seen;
}

async function main() {
  const health = await api('/health');
  check(health.status === 200 && health.json?.status === 'ok', 'GET /health is ok');

  const alice = await signUp('Alice');
  const bob = await signUp('Bob');
  const created = await api('/api/rooms', { method: 'POST', user: alice, body: { name: 'compat room' } });
  check(created.status === 201, 'create room -> 201');
  const roomId = created.json.data._id;
  const joined = await api(`/api/rooms/${roomId}/join`, { method: 'POST', user: bob, body: {} });
  check(joined.status === 200, 'bob joins over REST -> 200');

  // Alice: default transports (polling first, then the upgrade); Bob: websocket only.
  const a = await connect(alice);
  check(a.openedOver === 'polling', `alice connects with default transports, over polling first (got ${a.openedOver})`);
  const b = await connect(bob, { transports: ['websocket'] });
  check(b.io.engine.transport.name === 'websocket', 'bob connects over websocket only');
  if (a.io.engine.transport.name !== 'websocket') {
    await new Promise((resolve) => {
      const t = setTimeout(resolve, 5000);
      a.io.engine.once('upgrade', () => {
        clearTimeout(t);
        resolve();
      });
    });
  }
  check(a.io.engine.transport.name === 'websocket', `alice upgraded from polling to websocket (on ${a.io.engine.transport.name})`);

  const aMessages = collect(a, 'message');
  const bMessages = collect(b, 'message');

  a.emit('joinRoom', roomId);
  const aJoin = await waitFor(a, 'joinRoomSuccess');
  check(aJoin?.roomId === roomId, 'alice gets joinRoomSuccess');
  const bJoinPromise = waitFor(b, 'joinRoomSuccess');
  b.emit('joinRoom', roomId);
  const bJoin = await bJoinPromise;
  check(bJoin?.participants?.length === 2, 'bob gets joinRoomSuccess with 2 participants');

  // Each sees both users' messages, the sender's own included.
  const text = (who) => `hello from ${who}`;
  a.emit('chatMessage', { room: roomId, type: 'text', content: text('alice') });
  b.emit('chatMessage', { room: roomId, type: 'text', content: text('bob') });
  for (const [socket, seen, who] of [[a, aMessages, 'alice'], [b, bMessages, 'bob']]) {
    for (const from of ['alice', 'bob']) {
      const got = seen.find((m) => m.content === text(from)) ?? (await waitFor(socket, 'message', (m) => m.content === text(from)));
      check(got?.sender?.name?.toLowerCase() === from, `${who} sees the message from ${from}`);
    }
  }

  // History: enough messages for two pages.
  for (let i = 1; i <= 40; i++) {
    a.emit('chatMessage', { room: roomId, type: 'text', content: `m${i}` });
  }
  const last = bMessages.find((m) => m.content === 'm40') ?? (await waitFor(b, 'message', (m) => m.content === 'm40'));
  check(last !== null, 'bob receives all 40 burst messages');
  const loadStart = waitFor(b, 'messageLoadStart');
  const firstPagePromise = waitFor(b, 'previousMessagesLoaded');
  b.emit('fetchPreviousMessages', { roomId });
  check((await loadStart) !== null, 'messageLoadStart arrives');
  const firstPage = await firstPagePromise;
  check(firstPage?.messages?.length === 30 && firstPage.hasMore === true, 'first history page: 30 messages, hasMore');
  check(firstPage?.messages?.at(-1)?.content === 'm40', 'first page ends with the newest message');
  const secondPagePromise = waitFor(b, 'previousMessagesLoaded');
  b.emit('fetchPreviousMessages', { roomId, before: firstPage?.oldestTimestamp });
  const secondPage = await secondPagePromise;
  // 2 join notices + 2 hellos + 40 = 44 messages: 30 + 14.
  check(secondPage?.messages?.length === 14 && secondPage.hasMore === false, `second page: the remaining 14, no more (got ${secondPage?.messages?.length})`);
  const all = [...(secondPage?.messages ?? []), ...(firstPage?.messages ?? [])];
  const ascending = all.every((m, i) => i === 0 || all[i - 1].timestamp < m.timestamp);
  check(ascending && new Set(all.map((m) => m._id)).size === all.length, 'pages are ascending without repeats');

  // Reactions reach both.
  const hello = aMessages.find((m) => m.content === text('alice'));
  const aReaction = waitFor(a, 'messageReactionUpdate');
  const bReaction = waitFor(b, 'messageReactionUpdate');
  b.emit('messageReaction', { messageId: hello._id, reaction: '👍', type: 'add' });
  for (const [who, p] of [['alice', aReaction], ['bob', bReaction]]) {
    const update = await p;
    check(update?.messageId === hello._id && update?.reactions?.['👍']?.[0] === bob.id, `${who} sees bob's reaction`);
  }

  // Read receipts go to the other member only; the ack reports success.
  const aRead = waitFor(a, 'messagesRead');
  const bRead = waitFor(b, 'messagesRead', () => true, 500);
  const ack = await b.timeout(5000).emitWithAck('markMessagesAsRead', { roomId, messageIds: [hello._id] });
  check(ack?.success === true, 'markMessagesAsRead is acknowledged with {success:true}');
  const read = await aRead;
  check(read?.userId === bob.id && read?.messageIds?.[0] === hello._id, 'alice receives messagesRead from bob');
  check((await bRead) === null, 'bob does not receive his own messagesRead');

  // The AI stream, in order, to the other member.
  const order = [];
  for (const event of ['aiMessageStart', 'aiMessageChunk', 'aiMessageComplete']) {
    b.on(event, () => order.push(event));
  }
  const complete = waitFor(b, 'aiMessageComplete', () => true, 10_000);
  a.emit('chatMessage', { room: roomId, type: 'text', content: '@wayneAI are you there?' });
  const done = await complete;
  check(done?.isComplete === true && typeof done?.content === 'string' && done.content.length > 0, 'aiMessageComplete carries the reply');
  const chunks = order.filter((e) => e === 'aiMessageChunk').length;
  check(order[0] === 'aiMessageStart' && order.at(-1) === 'aiMessageComplete' && chunks > 0, `AI stream order start, ${chunks} chunks, complete`);

  // A bad token is refused at connect with the server's reason.
  try {
    const bad = await connect({ token: 'not-a-token', sessionId: bob.sessionId }, { transports: ['websocket'] });
    bad.close();
    check(false, 'a bad token is refused with connect_error');
  } catch (err) {
    check(err?.message === 'Invalid token', `a bad token is refused with connect_error (message: ${err?.message})`);
  }

  a.close();
  b.close();
}

main()
  .catch((err) => {
    failures.push(`unexpected error: ${err?.stack ?? err}`);
  })
  .finally(() => {
    clearTimeout(watchdog);
    report();
  });
