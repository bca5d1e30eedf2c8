/* chatapp — the chat page's data, elements and shared state (static/chatapp/chat/).
 *
 * The chat page's modules, from the bottom up (each takes only from those before it:
 * collectstatic hashes a module after the ones it names, so the graph has no cycle):
 *   state.js      page data, elements, the state every part reads and writes
 *   notices.js    toasts, announcements, the banner, the title
 *   controls.js   the composer's controls as the state says (Send/Stop, model, thinking)
 *   scrolling.js  sticking to the bottom, "Jump to latest"
 *   paint.js      how one message view is drawn
 *   messages.js   the message views: made, placed, repainted, removed
 *   cost.js       the conversation's running cost in the header
 *   sidebar.js    the conversation list, renaming, deleting, the phone-width drawer
 *   filing.js     pinning, archiving, the Archived chats dialog
 *   projects.js   the sidebar's projects, a project's dialog, the header's project and notice
 *   snapshot.js   a conversation read from the API, drawn or merged into the views
 *   replies.js    a reply streaming in (started, delta, tool_call, reply_state, completed)
 *   frames.js     every other server frame, and the dispatch
 *   connection.js the socket, the silence check, a refused connection
 *   navigation.js which conversation is shown (the address, history, the sidebar's links)
 *   actions.js    a message's buttons: versions, edit, retry, continue, copy
 *   composer.js   sending, stopping, the model picker
 *   main.js       wires it all and starts (the template loads it)
 * A lower module that must call a higher one (a sidebar row opens a conversation) does it
 * through `upcalls`, which main.js fills in at start.
 */

import { $, icon as lineIcon } from "../lib/dom.js";
import { readJson } from "../lib/json.js";

// --- page data (rendered by Django's json_script) ------------------------------------

const MODELS = readJson("models-data", []) || [];

const DEFAULT_MODEL = readJson("default-model", null) || (MODELS[0] && MODELS[0].id) || "";
const INITIAL_ID = readJson("conversation-id", null);

// --- elements ------------------------------------------------------------------------

const el = {
  body: document.body,
  sidebar: $("sidebar"),
  sidebarToggle: $("sidebar-toggle"),
  sidebarBackdrop: $("sidebar-backdrop"),
  newChat: $("new-chat"),
  convList: $("conv-list"),
  convStatus: $("conv-status"),
  title: $("conv-title"),
  convCost: $("conv-cost"),
  connStatus: $("conn-status"),
  banner: $("banner"),
  scroller: $("scroller"),
  emptyState: $("empty-state"),
  loading: $("loading-state"),
  messages: $("messages"),
  jump: $("jump-latest"),
  composer: $("composer"),
  input: $("composer-input"),
  modelSelect: $("model-select"),
  thinkingSelect: $("thinking-select"),
  send: $("send-btn"),
  sendLabel: $("send-label"),
  toasts: $("toasts"),
  announcer: $("announcer"),
  dialog: $("confirm-delete"),
  dialogText: $("confirm-delete-text"),
  archivedNote: $("archived-note"),
  unarchiveCurrent: $("unarchive-current"),
  archivedBtn: $("archived-btn"),
  archivedDialog: $("archived-dialog"),
  archivedList: $("archived-list"),
  archivedStatus: $("archived-status"),
};

// --- state ---------------------------------------------------------------------------

const state = {
  conversations: [], // sidebar rows: {id, title, model, pinned, archived, pinned_at, created_at, updated_at}
  conversationsLoaded: false,
  archivedCount: 0, // the user's archived conversations, when the list was last read
  currentId: null,
  current: null, // the open conversation (without messages)
  socket: null,
  loadToken: 0, // bumped on every navigation: late answers for old views are dropped
  snapshotApplied: false,
  frameBuffer: [], // frames that arrived before the first snapshot was drawn
  messages: new Map(), // id -> message view (see newView)
  pending: [], // optimistic user messages not yet confirmed by message_created
  streamingId: null, // the reply streaming in this conversation
  awaitingReply: false, // we sent something and wait for message_started
  stickToBottom: true,
  fatal: false,
  renderQueued: false,
  dirty: new Set(),
  resyncInFlight: false,
  jumpTo: null, // a message to scroll to once the conversation is drawn (search)
  renaming: false, // a row's title is being edited: the list is redrawn when that ends
  projects: [], // the user's projects and those shared with them (GET /api/projects/)
  projectsLoaded: false,
};

// --- small helpers -------------------------------------------------------------------

const ICONS = {
  pencil: "M4 20h4L18.5 9.5a2.12 2.12 0 0 0-3-3L5 17v3z M13.5 8.5l2 2",
  trash: "M4 7h16 M10 11v6 M14 11v6 M6 7l1 13h10l1-13 M9 7V4h6v3",
  send: "M12 19V5 M5 12l7-7 7 7",
  stop: "M7 7h10v10H7z",
  retry: "M4 4v6h6 M20 12a8 8 0 0 1-14.3 4.9 M4 10a8 8 0 0 1 14.3-4.9",
  copy: "M9 9h10v10H9z M5 15V5h10",
  prev: "M15 6l-6 6 6 6",
  next: "M9 6l6 6-6 6",
  pin: "M9 4h6 M10 4v6l-3 4h10l-3-4V4 M12 14v6",
  unpin: "M9 4h6 M10 4v6l-3 4h10l-3-4V4 M12 14v6 M4 4l16 16",
  archive: "M4 5h16v4H4z M6 9v10h12V9 M10 13h4",
  unarchive: "M4 5h16v4H4z M6 9v10h12V9 M12 17v-5 M9.5 14.5L12 12l2.5 2.5",
  plus: "M12 5v14 M5 12h14",
};

const icon = (name) => lineIcon(ICONS[name]);

function conversationTitle(conv) {
  const title = conv && typeof conv.title === "string" ? conv.title.trim() : "";
  return title || "New chat";
}

function parsePath(pathname) {
  const match = /^\/c\/(\d+)\/?$/.exec(pathname);
  return match ? Number(match[1]) : null;
}

/** Calls that go up the module graph, filled in by main.js before anything runs. */
const upcalls = {
  navigate: null, // navigation.js: show a conversation (null: a new chat)
  fileConversation: null, // filing.js: pin, unpin, archive or unarchive a conversation
};

// --- what the page's other scripts read (comforts.js, settings.js, estimate.js) ---------
const currentId = () => state.currentId;
const current = () => state.current;
const conversations = () => state.conversations;
const models = () => MODELS;

export {
  MODELS, DEFAULT_MODEL, INITIAL_ID, el, state, upcalls, icon, conversationTitle, parsePath,
};
export { currentId, current, conversations, models };
