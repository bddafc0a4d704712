// The comparison workload for k6 (benches/compare.py runs it; see benches/README.md).
//
// k6 has no Socket.IO client, so this speaks Engine.IO 4 / Socket.IO 4 by hand over `k6/experimental/websockets`:
// answer the server's ping `2` with `3`, CONNECT with `40{auth}`, emit `42["joinRoom",id]` and
// `42["chatMessage",{…}]`. Every virtual user:
//   1. registers over REST (a fresh e-mail per VU),
//   2. joins its group's room over REST (rooms of 10, created beforehand by the harness),
//   3. opens the Socket.IO session, CONNECTs with its token and emits joinRoom,
//   4. from joinRoomSuccess on, sends a chat message every INTERVAL seconds until the common end time,
//   5. closes the socket.
// VUs ramp from 0 to N over RAMP seconds, then hold for HOLD seconds.
//
// What k6 reports about the chat: ws_* built-ins (connecting time, frames sent/received, sessions)
// and the custom metrics below. `chat_delivery_ms` is measured the only way a k6 script can: each
// message carries its send time (Date.now(), ms) and every receiver subtracts it from its own clock.
// It is timed from the actual send, not the intended one (no coordinated-omission correction), and
// nothing checks that every member got every message exactly once and in order.
import http from 'k6/http';
import exec from 'k6/execution';
import { SharedArray } from 'k6/data';
import { Counter, Trend } from 'k6/metrics';
import { setInterval, setTimeout, clearInterval } from 'k6/timers';
import { WebSocket } from 'k6/experimental/websockets';

const BASE = __ENV.TARGET; // http://127.0.0.1:PORT
const WS_URL = BASE.replace(/^http/, 'ws') + '/socket.io/?EIO=4&transport=websocket';
const N = parseInt(__ENV.USERS, 10);
const RAMP = parseFloat(__ENV.RAMP);
const HOLD = parseFloat(__ENV.HOLD);
const INTERVAL_MS = parseFloat(__ENV.INTERVAL) * 1000;
const ROOMS = new SharedArray('rooms', () => JSON.parse(open(__ENV.ROOMS)));

const sent = new Counter('chat_messages_sent');
const received = new Counter('chat_messages_received');
const joined = new Counter('chat_rooms_joined');
const errors = new Counter('chat_errors');
const delivery = new Trend('chat_delivery_ms', true);

export const options = {
  scenarios: {
    chat: {
      executor: 'ramping-vus',
      startVUs: 0,
      stages: [
        { duration: `${RAMP}s`, target: N },
        { duration: `${HOLD}s`, target: N },
      ],
      gracefulRampDown: '0s',
      gracefulStop: '15s',
    },
  },
  setupTimeout: '60s',
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(95)', 'p(99)'],
};

export function setup() {
  return { t0: Date.now() };
}

export default function (data) {
  const end = data.t0 + (RAMP + HOLD) * 1000;
  if (Date.now() > end - 2000) {
    return; // a VU restarting its iteration at the very end does nothing
  }
  const vu = exec.vu.idInTest;
  // `Connection: close`: a VU's REST connection is otherwise kept open (idle) for the whole test, and at
  // 10,000 VUs those idle connections plus the sockets would exceed 20,000 open files on both sides.
  const json = { headers: { 'Content-Type': 'application/json', Connection: 'close' } };
  const reg = http.post(
    `${BASE}/api/auth/register`,
    JSON.stringify({
      name: `k6 user ${vu}`,
      email: `k6-${vu}-${exec.vu.iterationInScenario}-${data.t0}@bench.test`,
      password: 'secret123',
    }),
    json,
  );
  if (reg.status !== 201) {
    errors.add(1, { step: 'register' });
    return;
  }
  const { token, sessionId } = reg.json();
  const room = ROOMS[Math.floor((vu - 1) / 10) % ROOMS.length];
  const auth = {
    headers: {
      'Content-Type': 'application/json',
      Connection: 'close',
      'x-auth-token': token,
      'x-session-id': sessionId,
    },
  };
  const join = http.post(`${BASE}/api/rooms/${room}/join`, '{}', auth);
  if (join.status !== 200) {
    errors.add(1, { step: 'join' });
    return;
  }

  const ws = new WebSocket(WS_URL);
  let ticker = null;
  const send = () => {
    ws.send(`42["chatMessage",{"room":"${room}","type":"text","content":"k6 ${Date.now()}"}]`);
    sent.add(1);
  };
  ws.onmessage = (e) => {
    const d = e.data;
    if (d === '2') {
      ws.send('3');
    } else if (d.startsWith('42["message"')) {
      received.add(1);
      const m = /"content":"k6 (\d+)"/.exec(d);
      if (m) delivery.add(Date.now() - parseInt(m[1], 10));
    } else if (d.startsWith('0{')) {
      ws.send('40' + JSON.stringify({ token, sessionId }));
    } else if (d.startsWith('40')) {
      ws.send(`42["joinRoom","${room}"]`);
    } else if (d.startsWith('42["joinRoomSuccess"')) {
      joined.add(1);
      send();
      ticker = setInterval(send, INTERVAL_MS);
    } else if (d.startsWith('44') || d.startsWith('42["error"') || d.startsWith('42["joinRoomError"')) {
      errors.add(1, { step: 'socket' });
    }
  };
  let closing = false;
  // Closing at the end draws "close 1006 (abnormal closure): unexpected EOF" from k6 (the reference
  // server does not answer the close frame), so only errors before our own close count.
  ws.onerror = () => {
    if (!closing) errors.add(1, { step: 'ws' });
  };
  ws.onclose = () => {
    if (ticker !== null) clearInterval(ticker);
  };
  setTimeout(() => {
    if (ticker !== null) clearInterval(ticker);
    ticker = null;
    closing = true;
    ws.close();
  }, Math.max(0, end - Date.now()));
}
