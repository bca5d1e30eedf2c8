/* chatapp chat page — the open conversation's socket (lib/socket.js): its frames, in
 * order once the snapshot is drawn; what a reconnect fetches again; a reply gone silent;
 * a connection the server refuses for good. */

import { api } from "../lib/api.js";
import { ConversationSocket } from "../lib/socket.js";
import { updateComposer } from "./controls.js";
import { handleFrame } from "./frames.js";
import { hasStreamingView } from "./messages.js";
import { hideBanner, loginHref, showBanner } from "./notices.js";
import { paint } from "./paint.js";
import { requestResync } from "./replies.js";
import { resyncSnapshot } from "./snapshot.js";
import { el, state } from "./state.js";

let lastFrameAt = Date.now(); // the last frame of the open conversation (watchSilence)

function onFrame(token, frame) {
  if (token !== state.loadToken) return;
  lastFrameAt = Date.now();
  if (!state.snapshotApplied) {
    state.frameBuffer.push(frame);
    return;
  }
  handleFrame(frame);
}

function flushFrameBuffer() {
  const frames = state.frameBuffer;
  state.frameBuffer = [];
  for (const frame of frames) handleFrame(frame);
}

function openSocket(id, token) {
  const socket = new ConversationSocket(id, {
    onFrame: (frame) => onFrame(token, frame),
    onOpen: ({ reconnect, resync }) => {
      if (token !== state.loadToken) return;
      if (!state.fatal) hideBanner();
      // A resync we asked for gets its text from reply_state; nothing else to fetch.
      if (resync) return;
      if (!state.snapshotApplied) {
        // The first fetch started before this connection: it may be older than the
        // socket's view. Checked once it has been drawn (see navigate).
        state.needsResync = true;
        return;
      }
      // Frames may have been missed while we were away, or between the fetch and now:
      // fetch the conversation again. Frames keep being applied meanwhile (merged by seq).
      if (reconnect || hasStreamingView()) resyncSnapshot();
    },
    onState: (socketState) => {
      if (token !== state.loadToken) return;
      showConnectionState(socketState);
    },
    onFatal: (code) => {
      if (token !== state.loadToken) return;
      onSocketFatal(code);
    },
    onHandshakeFailure: (attempt) => {
      if (token !== state.loadToken || attempt < 2) return;
      // Ask the JSON API why: logged out? deleted?
      api.getConversation(id).catch((err) => {
        if (token !== state.loadToken) return;
        if (err.status === 401) onSocketFatal(4401);
        else if (err.status === 404) onSocketFatal(4404);
      });
    },
  });
  return socket;
}

// A streaming reply that goes silent this long is checked with the server: a frame lost on
// the way (say, a full queue in an overloaded server process) would otherwise leave it
// "streaming" for ever. The resync brings its reply_state, or a `ready` that no longer lists
// it, and then the conversation is fetched again (onReady).
const SILENCE_MS = Number(window.chatappSilenceMs) || 20000; // tests set it shorter
function watchSilence() {
  window.setInterval(() => {
    if (!hasStreamingView() || Date.now() - lastFrameAt < SILENCE_MS) return;
    lastFrameAt = Date.now();
    requestResync();
  }, Math.min(SILENCE_MS, 5000));
}

let connTimer = null;
function showConnectionState(socketState) {
  window.clearTimeout(connTimer);
  if (socketState === "reconnecting") {
    // Say so only when it lasts: a quick resync is no news.
    connTimer = window.setTimeout(() => {
      el.connStatus.textContent = "Reconnecting…";
      el.connStatus.hidden = false;
    }, 1200);
  } else {
    el.connStatus.hidden = true;
    el.connStatus.textContent = "";
  }
}

function onSocketFatal(code) {
  state.fatal = true;
  if (state.socket) state.socket.close();
  state.streamingId = null;
  state.awaitingReply = false;
  for (const view of state.pending) {
    view.failed = true;
    paint(view);
  }
  if (code === 4401) {
    showBanner("You have been logged out.", { href: loginHref(), text: "Sign in again" });
  } else if (code === 4403 || code === 4404) {
    showBanner("This conversation was not found. It may have been deleted.", { href: "/", text: "Start a new chat" });
  } else {
    showBanner("The server refused the live connection. Try reloading the page.");
  }
  updateComposer();
}

export { openSocket, flushFrameBuffer, showConnectionState, watchSilence };
