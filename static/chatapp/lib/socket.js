/* chatapp — one WebSocket per open conversation (see docs/protocol.md, "The WebSocket").
 *
 * ConversationSocket connects, reconnects with backoff when the connection drops, queues
 * frames sent while it is not open, and hands every decoded server frame to onFrame.
 * Closing codes 4401/4403/4404/4003 are final: no reconnect, onFatal(code) is called.
 */

const FATAL_CODES = new Set([4401, 4403, 4404, 4003]);
const RESYNC_CODE = 4000; // our own close: "I missed a frame, resend reply_state"
const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 15000;

function socketUrl(conversationId) {
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  return scheme + "://" + window.location.host + "/ws/conversations/" + encodeURIComponent(conversationId) + "/";
}

export class ConversationSocket {
  /**
   * handlers: {
   *   onFrame(frame), onOpen({reconnect}), onState(state) where state is
   *   "connecting" | "open" | "reconnecting" | "closed",
   *   onFatal(code), onHandshakeFailure(attempt)
   * }
   */
  constructor(conversationId, handlers) {
    this.conversationId = conversationId;
    this.handlers = handlers || {};
    this.ws = null;
    this.queue = [];
    this.attempt = 0;
    this.everOpened = false;
    this.stopped = false;
    this.retryTimer = null;
    this.stableTimer = null;
    this.state = "connecting";
    this.resyncRequested = false;
    this.resyncing = false; // the connection being opened replaces one we closed to resync
    this._onOnline = () => {
      if (this.state === "reconnecting") this._reconnectNow();
    };
    window.addEventListener("online", this._onOnline);
    this._connect();
  }

  get isOpen() {
    return !!this.ws && this.ws.readyState === WebSocket.OPEN;
  }

  _setState(state) {
    if (this.state === state) return;
    this.state = state;
    if (this.handlers.onState) this.handlers.onState(state);
  }

  _connect() {
    if (this.stopped) return;
    this._setState(this.everOpened ? "reconnecting" : "connecting");
    let ws;
    try {
      ws = new WebSocket(socketUrl(this.conversationId));
    } catch (_err) {
      this._scheduleReconnect();
      return;
    }
    this.ws = ws;
    let opened = false;

    ws.addEventListener("open", () => {
      if (ws !== this.ws) return;
      opened = true;
      const reconnect = this.everOpened;
      const resync = this.resyncing;
      this.resyncing = false;
      this.everOpened = true;
      this._setState("open");
      // Only a connection that stays up for a while resets the backoff.
      clearTimeout(this.stableTimer);
      this.stableTimer = setTimeout(() => {
        this.attempt = 0;
      }, 5000);
      if (this.handlers.onOpen) this.handlers.onOpen({ reconnect, resync });
      this._flushQueue();
    });

    ws.addEventListener("message", (event) => {
      if (ws !== this.ws) return;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (_err) {
        return; // not JSON: nothing we can do with it
      }
      if (!frame || typeof frame !== "object" || typeof frame.type !== "string") return;
      if (this.handlers.onFrame) this.handlers.onFrame(frame);
    });

    ws.addEventListener("close", (event) => {
      if (ws !== this.ws) return; // an old socket we already replaced
      clearTimeout(this.stableTimer);
      this.ws = null;
      if (this.stopped) return;
      if (FATAL_CODES.has(event.code)) {
        this.stopped = true;
        this._setState("closed");
        if (this.handlers.onFatal) this.handlers.onFatal(event.code);
        return;
      }
      if (this.resyncRequested) {
        this.resyncRequested = false;
        this.resyncing = true;
        this._connect(); // at once: we closed it ourselves to get a fresh reply_state
        return;
      }
      this.resyncing = false; // a plain reconnect: the page refetches what it missed
      if (!opened && this.handlers.onHandshakeFailure) {
        // A refused handshake reaches the browser as 1006 with no reason; let the page
        // ask the JSON API whether the conversation (or the session) is still there.
        this.handlers.onHandshakeFailure(this.attempt + 1);
      }
      this._scheduleReconnect();
    });
  }

  _scheduleReconnect() {
    if (this.stopped) return;
    this._setState("reconnecting");
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** this.attempt);
    const delay = Math.round(ceiling * (0.75 + Math.random() * 0.5));
    this.attempt += 1;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this._connect(), delay);
  }

  _reconnectNow() {
    clearTimeout(this.retryTimer);
    this._connect();
  }

  _flushQueue() {
    while (this.queue.length && this.isOpen) {
      this.ws.send(this.queue.shift());
    }
  }

  /** Send a frame now, or as soon as the socket is open. */
  send(frame) {
    if (this.stopped) return false;
    const data = JSON.stringify(frame);
    if (this.isOpen) this.ws.send(data);
    else this.queue.push(data);
    return true;
  }

  /** Drop the connection and open a new one at once (the server resends reply_state). */
  resync() {
    if (this.stopped) return;
    if (this.isOpen) {
      this.resyncRequested = true;
      this.ws.close(RESYNC_CODE, "resync");
    }
    // While connecting, the coming connection sends a fresh reply_state anyway.
  }

  /** Close for good (leaving the conversation). */
  close() {
    this.stopped = true;
    this.queue = [];
    clearTimeout(this.retryTimer);
    clearTimeout(this.stableTimer);
    window.removeEventListener("online", this._onOnline);
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      try {
        ws.close(1000, "bye");
      } catch (_err) {
        /* already closing */
      }
    }
    this._setState("closed");
  }
}
