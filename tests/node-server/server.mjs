// A small chat server on the real npm `socket.io` v4 package, speaking the competition protocol
// (docs/protocol.md) closely enough for a load generator: REST auth and rooms, socket rooms,
// messages, history, reads, reactions and a streamed AI reply.
//
// It exists to prove stampede works against a server it did not write, and it can misbehave on
// purpose so delivery verification can be tested against a real Socket.IO stack:
//
//   node server.mjs [--port 0] [--host 127.0.0.1] [--drop P] [--dup P] [--delay-ms N]
//                   [--delay-share P] [--jitter-ms N] [--drop-reads P] [--drop-reactions P]
//                   [--health-status N] [--health-body TEXT] [--hostile]
//
//   --drop P            each delivery of a chat message to a member other than the sender is skipped
//                       with probability P
//   --dup P             ... is sent twice with probability P
//   --delay-ms N        ... is delayed by N ms (the sender's own copy is never delayed)
//   --delay-share P     ... only with probability P (default 1: every delivery is delayed)
//   --jitter-ms N       ... is delayed by an extra random 0..N ms (which reorders messages)
//   --drop-reads P      each `messagesRead` to another member is skipped with probability P
//   --drop-reactions P  each `messageReactionUpdate` to a member other than the reactor is skipped
//                       with probability P
//   --health-status N   answer GET /health with this status and --health-body as text/html
//   --health-body TEXT  ... (either flag makes /health answer like another service would)
//   --hostile           every request after login answers 500 with markup in its message (an
//                       <img onerror>, a <script>), as a server trying to run code in a report would
//
// `GET /faults` answers what was injected so far: {dropped, duplicated, delayed, droppedReads,
// droppedReactions}, each a count of (event, member) deliveries.
//
// Prints `listening <port>` on stdout once ready; exits on SIGTERM/SIGINT or when stdin closes.

import http from 'node:http';
import crypto from 'node:crypto';
import { Server } from 'socket.io';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const PORT = Number(opt('port', '0'));
const HOST = opt('host', '127.0.0.1');
const DROP = Number(opt('drop', '0'));
const DUP = Number(opt('dup', '0'));
const DELAY = Number(opt('delay-ms', '0'));
const JITTER = Number(opt('jitter-ms', '0'));
const DELAY_SHARE = Number(opt('delay-share', '1'));
const DROP_READS = Number(opt('drop-reads', '0'));
const DROP_REACTIONS = Number(opt('drop-reactions', '0'));
const HEALTH_STATUS = Number(opt('health-status', '200'));
const HEALTH_BODY = opt('health-body', '');
const HOSTILE = args.includes('--hostile');
const HOSTILE_MESSAGE =
  '<img src=x onerror="document.body.dataset.pwned=1"><script>document.title="pwned"</script><b id=injected>bold</b>';
const faults = { dropped: 0, duplicated: 0, delayed: 0, droppedReads: 0, droppedReactions: 0 };

const id = () => crypto.randomBytes(12).toString('hex');
const now = () => new Date().toISOString();

const users = new Map(); // id -> {_id,name,email,password,profileImage}
const byEmail = new Map(); // email -> id
const sessions = new Map(); // token -> {userId, sessionId}
const rooms = new Map(); // id -> {_id,name,password,creator,participants:Set,createdAt}
const messages = new Map(); // roomId -> [message]
const byMessageId = new Map(); // messageId -> message

const summary = (u) => ({ _id: u._id, name: u.name, email: u.email });
const roomView = (r, userId) => ({
  _id: r._id,
  name: r.name,
  hasPassword: !!r.password,
  creator: summary(users.get(r.creator)),
  participants: [...r.participants].map((p) => summary(users.get(p))),
  participantsCount: r.participants.size,
  createdAt: r.createdAt,
  isCreator: r.creator === userId,
});

function send(res, status, body) {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
  res.end(data);
}

function readBody(req) {
  return new Promise((resolve) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

function authUser(req) {
  const token = req.headers['x-auth-token'];
  const s = token && sessions.get(token);
  if (!s || s.sessionId !== req.headers['x-session-id']) return null;
  return users.get(s.userId);
}

function login(user) {
  for (const [t, s] of sessions) if (s.userId === user._id) sessions.delete(t);
  const token = id() + id();
  const sessionId = id();
  sessions.set(token, { userId: user._id, sessionId });
  return { token, sessionId };
}

// Minimal multipart parsing: the first part's filename and content type, and its size.
function filePart(body, contentType) {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/.exec(contentType || '');
  if (!m) return null;
  const text = body.toString('latin1');
  const head = /filename="([^"]*)"\r\nContent-Type: ([^\r]+)\r\n\r\n/i.exec(text);
  if (!head) return null;
  const start = head.index + head[0].length;
  const end = text.indexOf(`\r\n--${m[1] || m[2]}`, start);
  return { originalname: head[1], mimetype: head[2], size: (end < 0 ? text.length : end) - start };
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  const path = url.pathname;
  const body = await readBody(req);
  let json = {};
  if ((req.headers['content-type'] || '').startsWith('application/json') && body.length) {
    try {
      json = JSON.parse(body.toString());
    } catch {
      return send(res, 400, { success: false, message: 'invalid JSON' });
    }
  }
  if (req.method === 'GET' && path === '/health') {
    if (HEALTH_STATUS !== 200 || HEALTH_BODY) {
      res.writeHead(HEALTH_STATUS, { 'content-type': 'text/html', server: 'wrong-service/1.0' });
      return res.end(HEALTH_BODY);
    }
    return send(res, 200, { status: 'ok', timestamp: now() });
  }
  if (req.method === 'GET' && path === '/faults') return send(res, 200, faults);
  if (req.method === 'POST' && path === '/api/auth/register') {
    const { name, email, password } = json;
    if (!name || !email || !password || password.length < 6 || name.length < 2)
      return send(res, 400, { success: false, message: 'invalid input' });
    if (byEmail.has(email)) return send(res, 409, { success: false, message: 'email taken' });
    const user = { _id: id(), name, email, password, profileImage: '' };
    users.set(user._id, user);
    byEmail.set(email, user._id);
    return send(res, 201, { success: true, message: 'registered', ...login(user), user: summary(user) });
  }
  if (req.method === 'POST' && path === '/api/auth/login') {
    const user = users.get(byEmail.get(json.email));
    if (!user || user.password !== json.password)
      return send(res, 401, { success: false, message: 'bad credentials' });
    return send(res, 200, { success: true, ...login(user), user: { ...summary(user), profileImage: user.profileImage } });
  }
  const user = authUser(req);
  if (!user) return send(res, 401, { success: false, message: 'unauthorized' });
  if (HOSTILE) return send(res, 500, { success: false, message: HOSTILE_MESSAGE });
  if (req.method === 'GET' && path === '/api/rooms') {
    const pageSize = Math.min(Number(url.searchParams.get('pageSize') || 10), 50);
    const page = Number(url.searchParams.get('page') || 0);
    const all = [...rooms.values()].sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1));
    const data = all.slice(page * pageSize, page * pageSize + pageSize).map((r) => roomView(r, user._id));
    return send(res, 200, {
      success: true,
      data,
      metadata: { total: all.length, page, pageSize, totalPages: Math.ceil(all.length / pageSize),
        hasMore: (page + 1) * pageSize < all.length, currentCount: data.length, sort: { field: 'createdAt', order: 'desc' } },
    });
  }
  if (req.method === 'POST' && path === '/api/rooms') {
    if (!json.name) return send(res, 400, { success: false, message: 'name required' });
    const room = { _id: id(), name: json.name, password: json.password || '', creator: user._id,
      participants: new Set([user._id]), createdAt: now() };
    rooms.set(room._id, room);
    messages.set(room._id, []);
    return send(res, 201, { success: true, data: roomView(room, user._id) });
  }
  let m = /^\/api\/rooms\/([^/]+)(\/join)?$/.exec(path);
  if (m) {
    const room = rooms.get(m[1]);
    if (!room) return send(res, 404, { success: false, message: 'room not found' });
    if (m[2] && req.method === 'POST') {
      if (room.password && room.password !== json.password)
        return send(res, 401, { success: false, message: 'wrong password' });
      room.participants.add(user._id);
      io.to(room._id).emit('roomUpdate', roomView(room));
    }
    return send(res, 200, { success: true, data: roomView(room, user._id) });
  }
  if (req.method === 'POST' && (path === '/api/files/upload' || path === '/api/users/profile-image')) {
    const part = filePart(body, req.headers['content-type']);
    if (!part) return send(res, 400, { success: false, message: 'no file' });
    const filename = `${Date.now()}_${id()}`;
    if (path === '/api/users/profile-image') {
      user.profileImage = `/uploads/${filename}`;
      return send(res, 200, { success: true, message: 'ok', imageUrl: user.profileImage });
    }
    return send(res, 200, { success: true, message: 'ok',
      file: { _id: id(), filename, ...part, uploadDate: now() } });
  }
  return send(res, 404, { success: false, message: 'not found' });
});

const io = new Server(server, { pingInterval: 25000, pingTimeout: 20000 });

io.use((socket, next) => {
  const { token, sessionId } = socket.handshake.auth || {};
  const s = token && sessions.get(token);
  if (!s || s.sessionId !== sessionId) return next(new Error('Invalid session'));
  socket.user = users.get(s.userId);
  next();
});

// Delivers a chat message to one member, with the configured faults (never to the sender).
function deliver(member, msg, isSender) {
  if (isSender) return member.emit('message', msg);
  if (Math.random() < DROP) {
    faults.dropped++;
    return;
  }
  const copies = Math.random() < DUP ? 2 : 1;
  if (copies === 2) faults.duplicated++;
  const delayed = DELAY > 0 && Math.random() < DELAY_SHARE;
  if (delayed) faults.delayed++;
  const wait = (delayed ? DELAY : 0) + (JITTER ? Math.random() * JITTER : 0);
  for (let i = 0; i < copies; i++) {
    if (wait > 0) setTimeout(() => member.emit('message', msg), wait);
    else member.emit('message', msg);
  }
}

// Sends a room event to its members: to the actor's own socket only when `toActor`, and to every
// other member unless the copy is dropped (probability `drop`, counted in faults[counter]).
function toMembers(roomId, actor, toActor, event, payload, drop, counter) {
  for (const sid of io.sockets.adapter.rooms.get(roomId) ?? []) {
    const s = io.sockets.sockets.get(sid);
    if (!s) continue;
    if (sid === actor) {
      if (toActor) s.emit(event, payload);
    } else if (Math.random() < drop) {
      faults[counter]++;
    } else {
      s.emit(event, payload);
    }
  }
}

function store(roomId, msg) {
  messages.get(roomId).push(msg);
  byMessageId.set(msg._id, msg);
  return msg;
}

function system(roomId, content) {
  const msg = store(roomId, { _id: id(), room: roomId, content, type: 'system', mentions: [],
    timestamp: now(), readers: [], reactions: {} });
  io.to(roomId).emit('message', msg);
}

io.on('connection', (socket) => {
  const user = socket.user;
  const sender = { ...summary(user), profileImage: user.profileImage };
  socket.on('joinRoom', (roomId) => {
    const room = rooms.get(roomId);
    if (!room || !room.participants.has(user._id))
      return socket.emit('joinRoomError', { message: 'no access to this room' });
    if (socket.roomId) socket.leave(socket.roomId);
    socket.join(roomId);
    socket.roomId = roomId;
    const all = messages.get(roomId);
    const recent = all.slice(-30);
    socket.emit('joinRoomSuccess', { roomId, participants: [...room.participants].map((p) => summary(users.get(p))),
      messages: recent, hasMore: all.length > recent.length, oldestTimestamp: recent[0]?.timestamp ?? null, activeStreams: [] });
    system(roomId, `${user.name} joined`);
    io.to(roomId).emit('participantsUpdate', [...room.participants].map((p) => summary(users.get(p))));
  });
  socket.on('chatMessage', (data) => {
    const room = data && rooms.get(data.room);
    if (!room || !room.participants.has(user._id))
      return socket.emit('error', { code: 'MESSAGE_ERROR', message: 'not a participant' });
    if (data.type !== 'file' && !String(data.content || '').trim()) return;
    const content = String(data.content || '');
    const mentions = ['wayneAI', 'consultingAI'].filter((ai) => content.includes(`@${ai}`));
    const msg = store(room._id, { _id: id(), room: room._id, content, type: data.type === 'file' ? 'file' : 'text',
      sender, file: data.fileData, mentions, timestamp: now(), readers: [], reactions: {} });
    for (const member of io.sockets.adapter.rooms.get(room._id) ?? []) {
      const s = io.sockets.sockets.get(member);
      if (s) deliver(s, msg, s.id === socket.id);
    }
    for (const ai of mentions) {
      const messageId = id();
      const words = `This is ${ai} answering: ${content}`.split(' ');
      io.to(room._id).emit('aiMessageStart', { messageId, aiType: ai, timestamp: now() });
      let full = '';
      words.forEach((w, i) => setTimeout(() => {
        full += (i ? ' ' : '') + w;
        io.to(room._id).emit('aiMessageChunk', { messageId, currentChunk: w, fullContent: full, isCodeBlock: false,
          timestamp: now(), aiType: ai, isComplete: false });
        if (i === words.length - 1) {
          const stored = store(room._id, { _id: id(), room: room._id, content: full, type: 'ai', aiType: ai,
            mentions: [], timestamp: now(), readers: [], reactions: {} });
          io.to(room._id).emit('aiMessageComplete', { messageId, _id: stored._id, content: full, aiType: ai,
            timestamp: now(), isComplete: true, query: content });
        }
      }, 5 * (i + 1)));
    }
  });
  socket.on('fetchPreviousMessages', ({ roomId, before } = {}) => {
    socket.emit('messageLoadStart');
    const all = (messages.get(roomId) ?? []).filter((m) => !before || m.timestamp < before);
    const page = all.slice(-30);
    socket.emit('previousMessagesLoaded', { messages: page, hasMore: all.length > page.length,
      oldestTimestamp: page[0]?.timestamp ?? null });
  });
  socket.on('markMessagesAsRead', ({ roomId, messageIds } = {}) => {
    for (const mid of messageIds ?? []) byMessageId.get(mid)?.readers.push({ userId: user._id, readAt: now() });
    toMembers(roomId, socket.id, false, 'messagesRead', { userId: user._id, messageIds },
      DROP_READS, 'droppedReads');
  });
  socket.on('messageReaction', ({ messageId, reaction, type } = {}) => {
    const msg = byMessageId.get(messageId);
    if (!msg) return socket.emit('error', { code: 'REACTION_ERROR', message: 'no such message' });
    const list = (msg.reactions[reaction] ??= []);
    if (type === 'remove') msg.reactions[reaction] = list.filter((u) => u !== user._id);
    else if (!list.includes(user._id)) list.push(user._id);
    toMembers(msg.room, socket.id, true, 'messageReactionUpdate',
      { messageId, reactions: msg.reactions }, DROP_REACTIONS, 'droppedReactions');
  });
  socket.on('leaveRoom', (roomId) => {
    socket.leave(roomId);
    if (socket.roomId === roomId) socket.roomId = null;
    rooms.get(roomId)?.participants.delete(user._id);
    system(roomId, `${user.name} left`);
  });
});

server.listen(PORT, HOST, () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
const stop = () => {
  io.close();
  server.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();
