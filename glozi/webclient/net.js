// The network layer: one WebSocket to the server's /ws, one native protocol
// frame (docs/protocol.md) per text message. No DOM here: the socket maker,
// the timers and the clock are given, so the same code runs under a test.

export const FIRST_DELAY = 0.5;
export const DELAY_GROWTH = 1.6;
export const LONGEST_DELAY = 15;
export const ATTEMPTS = 20;

// The desktop client's margins under the welcome's flood budget
// (docs/client.md, Sending): never the line that gets `flood`.
const BURST_MARGIN = 2;
const RATE_SHARE = 0.9;

export const State = Object.freeze({
  CONNECTING: "connecting",
  OPEN: "open",
  WAITING: "waiting",
  STOPPED: "stopped",
});

// The address of the WebSocket of the page served from `location`.
export function socketUrl(location) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws`;
}

// Delay before reconnection attempt `attempt` (1 for the first), in seconds.
export function retryDelay(attempt) {
  return Math.min(LONGEST_DELAY, FIRST_DELAY * DELAY_GROWTH ** (attempt - 1));
}

export class ConnectionLost extends Error {}

// A token bucket over the server's line budget, so queued lines go out in
// order without ever being dropped by the server's flood limit.
export class Pacer {
  constructor(now, burst = 20, perSecond = 5) {
    this.now = now;
    this.setBudget(burst, perSecond);
  }

  setBudget(burst, perSecond) {
    this.capacity = Math.max(1, burst - BURST_MARGIN);
    this.rate = Math.max(0.1, perSecond * RATE_SHARE);
    this.tokens = this.capacity;
    this.stamp = this.now();
  }

  refill() {
    const now = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.stamp) / 1000) * this.rate);
    this.stamp = now;
  }

  // Milliseconds until one more line may go (0: now).
  wait() {
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.rate) * 1000);
  }

  take() {
    this.refill();
    this.tokens -= 1;
  }
}

export class Connection {
  // url: the /ws address; makeSocket(url): a WebSocket; timers: {setTimeout,
  // clearTimeout}; now(): milliseconds. listener: {frame(f), state(s, info)}.
  constructor({ url, makeSocket, timers, now, listener }) {
    this.url = url;
    this.makeSocket = makeSocket;
    this.timers = timers;
    this.listener = listener;
    this.pacer = new Pacer(now);
    this.socket = null;
    this.state = State.STOPPED;
    this.attempt = 0;
    this.retryTimer = null;
    this.flushTimer = null;
    this.queue = [];
    this.pending = new Map();
    this.nextId = 1;
    this.retrying = true;
  }

  connect() {
    this.retrying = true;
    this.attempt = 0;
    this.open();
  }

  open() {
    this.cancelRetry();
    this.setState(State.CONNECTING, { attempt: this.attempt });
    let socket;
    try {
      socket = this.makeSocket(this.url);
    } catch (error) {
      this.lost(String(error));
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      if (this.socket === socket) {
        this.pacer.setBudget(20, 5);
        this.setState(State.OPEN, {});
      }
    };
    socket.onmessage = (event) => {
      if (this.socket === socket) this.received(event.data);
    };
    socket.onclose = () => {
      if (this.socket === socket) this.lost("closed");
    };
  }

  // The welcome told the budget: a fresh connection starts with a full one.
  setFlood(flood) {
    if (flood && typeof flood.burst === "number" && typeof flood.per_second === "number") {
      this.pacer.setBudget(flood.burst, flood.per_second);
    }
  }

  // The server closed on purpose (idle, bye, killed, exit codes): reconnecting
  // by itself would only be refused again, so the page waits for a click.
  stopRetrying() {
    this.retrying = false;
  }

  // Close for good (the user asked).
  close() {
    this.retrying = false;
    if (this.socket) this.socket.close();
  }

  get isOpen() {
    return this.state === State.OPEN;
  }

  received(data) {
    if (typeof data !== "string") return;
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (frame === null || typeof frame !== "object" || Array.isArray(frame)) return;
    const waiter = frame.id !== undefined && frame.id !== null ? this.pending.get(frame.id) : undefined;
    if (waiter) {
      this.pending.delete(frame.id);
      waiter.resolve(frame);
      return;
    }
    this.listener.frame(frame);
  }

  // Send a frame that needs no answer matched (its answer, if any, comes to the listener).
  send(frame) {
    this.queue.push(frame);
    this.flush();
  }

  // Send a frame and resolve with the frame answering it (a response or an
  // `error`), or reject with ConnectionLost when the connection ends first.
  request(frame) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.send({ ...frame, id });
    });
  }

  flush() {
    if (this.flushTimer !== null || !this.isOpen) return;
    while (this.queue.length) {
      const wait = this.pacer.wait();
      if (wait > 0) {
        this.flushTimer = this.timers.setTimeout(() => {
          this.flushTimer = null;
          this.flush();
        }, wait);
        return;
      }
      this.pacer.take();
      this.socket.send(JSON.stringify(this.queue.shift()));
    }
  }

  lost(why) {
    this.socket = null;
    if (this.flushTimer !== null) {
      this.timers.clearTimeout(this.flushTimer);
      this.flushTimer = null;
    }
    // What was queued belongs to the old connection: its requests fail, and
    // the view-model sends again what it keeps (its outbox).
    this.queue = [];
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const waiter of pending) waiter.reject(new ConnectionLost(why));
    if (!this.retrying || this.attempt >= ATTEMPTS) {
      this.setState(State.STOPPED, { why });
      return;
    }
    this.attempt += 1;
    const delay = retryDelay(this.attempt);
    this.setState(State.WAITING, { attempt: this.attempt, delay });
    this.retryTimer = this.timers.setTimeout(() => {
      this.retryTimer = null;
      this.open();
    }, delay * 1000);
  }

  // The server's welcome on this connection: the attempts count again from zero.
  welcomed() {
    this.attempt = 0;
  }

  cancelRetry() {
    if (this.retryTimer !== null) {
      this.timers.clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
  }

  setState(state, info) {
    this.state = state;
    this.listener.state(state, info);
  }
}
