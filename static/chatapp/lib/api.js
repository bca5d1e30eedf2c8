/* chatapp — JSON API client (see docs/protocol.md, "JSON endpoints").
 *
 * ES module: exports `api`. Every call resolves to the decoded JSON body (or null
 * for 204) and rejects with an ApiError whose message is already in plain words.
 */

class ApiError extends Error {
  constructor(message, status, data) {
    super(message);
    this.name = "ApiError";
    this.status = status; // 0 when the server could not be reached
    this.data = data || null;
  }
}

function readCookie(name) {
  const prefix = name + "=";
  for (const part of document.cookie ? document.cookie.split(";") : []) {
    const item = part.trim();
    if (item.startsWith(prefix)) return decodeURIComponent(item.slice(prefix.length));
  }
  return null;
}

function csrfToken() {
  const fromCookie = readCookie("csrftoken");
  if (fromCookie) return fromCookie;
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
}

const STATUS_WORDS = {
  400: "The server could not accept that request.",
  401: "You have been logged out. Please sign in again.",
  403: "You are not allowed to do that. Try reloading the page.",
  404: "That conversation was not found. It may have been deleted.",
  405: "The server does not allow that action.",
  413: "That is too large to send.",
  429: "Too many requests. Wait a moment and try again.",
};

function plainStatusMessage(status, serverMessage) {
  if (status === 401) return STATUS_WORDS[401];
  if (status === 404) return STATUS_WORDS[404];
  if (serverMessage && typeof serverMessage === "string") return serverMessage;
  if (STATUS_WORDS[status]) return STATUS_WORDS[status];
  if (status >= 500) return "The server had a problem (error " + status + "). Try again in a moment.";
  return "Something went wrong (error " + status + ").";
}

async function request(method, path, body) {
  const headers = { Accept: "application/json" };
  const init = { method, headers, credentials: "same-origin", cache: "no-store" };
  if (body instanceof FormData) {
    init.body = body; // multipart: the browser sets the Content-Type with its boundary
  } else if (body instanceof Blob) {
    init.body = body; // sent as it is, with the Blob's type (an export being imported)
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (method !== "GET" && method !== "HEAD") headers["X-CSRFToken"] = csrfToken();

  let response;
  try {
    response = await fetch(path, init);
  } catch (_err) {
    throw new ApiError("Can't reach the server. Check your connection and try again.", 0);
  }

  // A session that expired may be answered with a redirect to the login page.
  if (response.redirected && /\/accounts\/login\//.test(response.url)) {
    throw new ApiError(STATUS_WORDS[401], 401);
  }
  if (response.status === 204) return null;

  let data = null;
  const type = response.headers.get("Content-Type") || "";
  if (type.includes("json")) {
    try {
      data = await response.json();
    } catch (_err) {
      data = null;
    }
  }
  if (!response.ok) {
    throw new ApiError(plainStatusMessage(response.status, data && data.error), response.status, data);
  }
  if (data === null) {
    throw new ApiError("The server sent an unexpected answer. Try reloading the page.", response.status);
  }
  return data;
}

const enc = encodeURIComponent;

export const api = {
  ApiError,
  request, // for pages with endpoints of their own (batch_jobs.js)
  listConversations: () => request("GET", "/api/conversations/"),
  listArchived: () => request("GET", "/api/conversations/?archived=1"),
  createConversation: (fields) => request("POST", "/api/conversations/", fields || {}),
  getConversation: (id) => request("GET", "/api/conversations/" + enc(id) + "/"),
  updateConversation: (id, fields) => request("PATCH", "/api/conversations/" + enc(id) + "/", fields),
  deleteConversation: (id) => request("DELETE", "/api/conversations/" + enc(id) + "/"),
  // An export file's text (docs/protocol.md): the server reads it as it was written.
  importConversation: (text) =>
    request("POST", "/api/conversations/import/", new Blob([text], { type: "application/json" })),
  listModels: () => request("GET", "/api/models/"),
  getBudget: () => request("GET", "/api/budget/"),
  estimate: (body) => request("POST", "/api/estimate/", body),
  listAttachments: (id) => request("GET", "/api/conversations/" + enc(id) + "/attachments/"),
  uploadAttachment: (id, file) => {
    const form = new FormData();
    form.append("file", file, file.name);
    return request("POST", "/api/conversations/" + enc(id) + "/attachments/", form);
  },
  deleteAttachment: (id, attachmentId) =>
    request("DELETE", "/api/conversations/" + enc(id) + "/attachments/" + enc(attachmentId) + "/"),
  // Projects (docs/protocol.md, "Projects"): a 404 means no access as well as none there.
  listProjects: () => request("GET", "/api/projects/"),
  createProject: (fields) => request("POST", "/api/projects/", fields),
  getProject: (id) => request("GET", "/api/projects/" + enc(id) + "/"),
  uploadProjectDocument: (id, file) => {
    const form = new FormData();
    form.append("file", file, file.name);
    return request("POST", "/api/projects/" + enc(id) + "/documents/", form);
  },
  deleteProjectDocument: (id, documentId) =>
    request("DELETE", "/api/projects/" + enc(id) + "/documents/" + enc(documentId) + "/"),
  addProjectMember: (id, fields) => request("POST", "/api/projects/" + enc(id) + "/members/", fields),
  removeProjectMember: (id, memberId) =>
    request("DELETE", "/api/projects/" + enc(id) + "/members/" + enc(memberId) + "/"),
};
