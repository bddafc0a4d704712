// Helpers for artillery-chat.yml: count received chat messages, and stop every VU's loop at the
// common end time (the first VU's start + ramp + hold).
'use strict';

let t0 = 0;

function countMessages(context, events, done) {
  if (!t0) t0 = Date.now();
  const socket = context.sockets[''];
  socket.on('message', () => events.emit('counter', 'chat.messages_received', 1));
  return done();
}

function beforeEnd(context, next) {
  return next(Date.now() < t0 + context.vars.endAfterMs);
}

module.exports = { countMessages, beforeEnd };
