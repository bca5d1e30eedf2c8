/* chatapp chat page — projects (docs/protocol.md, "Projects"): the sidebar's list, the New
 * project dialog, a project's dialog (its documents, its members, a new chat in it), and the
 * open conversation's project in the header, with a notice when the project's documents have
 * changed since the chat began. The server checks every role again: the page only leaves out
 * the controls a role cannot use. Opening a chat goes up the graph through `upcalls.navigate`. */

import { api } from "../lib/api.js";
import { $, h } from "../lib/dom.js";
import { formatBytes, formatInt } from "../lib/format.js";
import { announce, toast } from "./notices.js";
import { closeSidebar, upsertConversation } from "./sidebar.js";
import { el as page, icon, state, upcalls } from "./state.js";

const el = {
  list: $("project-list"), status: $("projects-status"), newButton: $("new-project-btn"),
  // New project
  newDialog: $("new-project-dialog"), newForm: $("new-project-form"), newName: $("new-project-name"),
  newInstructions: $("new-project-instructions"), newError: $("new-project-error"),
  newCancel: $("new-project-cancel"), newSubmit: $("new-project-submit"),
  // a project's dialog
  dialog: $("project-dialog"), title: $("project-title"), about: $("project-about"),
  dialogStatus: $("project-status"), instructions: $("project-instructions"),
  start: $("project-new-chat-btn"), documents: $("project-documents"), upload: $("project-upload"),
  file: $("project-file"), members: $("project-members"), share: $("project-share"),
  shareUser: $("project-share-user"), shareRole: $("project-share-role"), error: $("project-error"),
  close: $("project-close"),
  // the open conversation's project
  header: $("conv-project"), note: $("project-note"), noteNewChat: $("project-new-chat"),
};

const ROLE_WORDS = { owner: "Owner", edit: "Edit", use: "Use" };
let shown = null; // the project in its dialog, as GET /api/projects/<id>/ answered
let listReadAt = 0;

/** An error's words; a 404 of a project means it is gone or no longer shared. */
function problem(err) {
  return err.status === 404 ? "This project was not found: it was deleted or is no longer shared with you." : err.message;
}

const projectOf = (id) => state.projects.find((p) => p.id === id) || null;
const canEdit = (project) => project.role === "owner" || project.role === "edit";

function setError(node, text) {
  node.textContent = text;
  node.hidden = !text;
}

// --- the sidebar's list --------------------------------------------------------------------

async function loadProjects() {
  listReadAt = Date.now();
  try {
    const data = await api.listProjects();
    state.projects = Array.isArray(data.projects) ? data.projects : [];
    state.projectsLoaded = true;
    renderProjects();
    showProject();
  } catch (err) {
    el.status.textContent = "Couldn't load your projects. " + err.message;
    el.status.hidden = false;
  }
}

function renderProjects() {
  el.list.replaceChildren(...state.projects.map(projectItem));
  el.status.textContent = state.projects.length ? "" : "No projects yet.";
  el.status.hidden = state.projects.length > 0;
}

function projectItem(project) {
  const current = state.current && state.current.project === project.id;
  const link = h("button", { type: "button", class: "project-link", "aria-haspopup": "dialog", title: project.name,
    onclick: () => openProject(project.id) }, h("span", { class: "conv-title", text: project.name }));
  const start = h("button", { type: "button", class: "icon-btn project-start-chat", "aria-label": "New chat in " + project.name,
    title: "New chat in this project", onclick: () => startChat(project) }, icon("plus"));
  return h("li", { class: "project-item" + (current ? " is-current" : ""), "data-id": project.id },
    link, h("div", { class: "conv-actions" }, start));
}

// --- a new project -------------------------------------------------------------------------

function openNewProject() {
  el.newForm.reset();
  setError(el.newError, "");
  el.newDialog.showModal();
  el.newName.focus();
}

async function createProject(event) {
  event.preventDefault();
  setError(el.newError, "");
  el.newSubmit.disabled = true;
  try {
    const project = await api.createProject({ name: el.newName.value, instructions: el.newInstructions.value });
    el.newDialog.close();
    state.projects.unshift(project);
    renderProjects();
    announce("Project “" + project.name + "” created.");
    openProject(project.id);
  } catch (err) {
    setError(el.newError, "Couldn't create the project. " + err.message);
  } finally {
    el.newSubmit.disabled = false;
  }
}

// --- a project's dialog --------------------------------------------------------------------

async function openProject(id) {
  closeSidebar();
  if (!el.dialog.open) {
    shown = null;
    el.title.textContent = (projectOf(id) || { name: "Project" }).name;
    for (const node of [el.documents, el.members]) node.replaceChildren();
    el.upload.hidden = el.share.hidden = el.instructions.hidden = true;
    el.about.textContent = "";
    setError(el.error, "");
    el.dialog.showModal();
  }
  el.dialogStatus.textContent = "Loading the project…";
  await readProject(id);
}

async function readProject(id) {
  try {
    shown = await api.getProject(id);
    drawProject(shown);
    el.dialogStatus.textContent = "";
  } catch (err) {
    el.dialogStatus.textContent = "Couldn't load the project. " + problem(err);
  }
}

function drawProject(project) {
  el.title.textContent = project.name;
  el.about.textContent = (project.role === "owner" ? "Yours" : "Shared by " + project.owner) +
    " · your role: " + ROLE_WORDS[project.role];
  el.instructions.textContent = project.instructions ? "Instructions: " + project.instructions : "";
  el.instructions.hidden = !project.instructions;
  const documents = Array.isArray(project.documents) ? project.documents : [];
  el.documents.replaceChildren(...(documents.length ? documents.map((d) => documentRow(project, d))
    : [h("li", { class: "settings-hint", text: "No documents yet." })]));
  el.upload.hidden = !canEdit(project);
  el.members.replaceChildren(...(project.members.length ? project.members.map((m) => memberRow(project, m))
    : [h("li", { class: "settings-hint", text: "Not shared with anyone yet." })]));
  el.share.hidden = project.role !== "owner";
}

function documentRow(project, doc) {
  const facts = [doc.pages ? formatInt(doc.pages) + (doc.pages === 1 ? " page" : " pages") : null,
    doc.tokens ? formatInt(doc.tokens) + " tokens" : null, formatBytes(doc.size)].filter(Boolean);
  const info = h("div", { class: "preset-info" },
    h("a", { href: doc.download_url, download: doc.name, class: "project-doc-name", text: doc.name }),
    h("span", { class: "preset-summary", text: facts.join(" · ") }));
  const row = h("li", { class: "documents-row", "data-id": doc.id }, info);
  if (canEdit(project)) {
    const remove = h("button", { type: "button", class: "btn btn-small btn-quiet", "aria-label": "Remove " + doc.name, text: "Remove" });
    remove.addEventListener("click", () => removeDocument(project, doc, remove));
    row.append(h("div", { class: "documents-actions" }, remove));
  }
  return row;
}

function memberRow(project, member) {
  const who = member.kind === "group" ? "Group " + member.name : member.name;
  const row = h("li", { class: "documents-row", "data-id": member.id },
    h("span", { class: "project-member", text: who + " · " + ROLE_WORDS[member.role] }));
  if (project.role === "owner") {
    const remove = h("button", { type: "button", class: "btn btn-small btn-quiet", "aria-label": "Remove " + who, text: "Remove" });
    remove.addEventListener("click", () => removeMember(project, member, remove));
    row.append(h("div", { class: "documents-actions" }, remove));
  }
  return row;
}

/** A second click confirms (as the presets' Delete does). */
function confirmed(button, label) {
  if (button.dataset.confirm === "1") return true;
  button.dataset.confirm = "1";
  button.textContent = "Really remove?";
  button.setAttribute("aria-label", label);
  return false;
}

async function changed(project, words, work) {
  setError(el.error, "");
  el.dialogStatus.textContent = words.doing;
  try {
    await work();
  } catch (err) {
    el.dialogStatus.textContent = "";
    setError(el.error, words.failed + " " + problem(err));
    return false;
  }
  await readProject(project.id);
  el.dialogStatus.textContent = words.done;
  return true;
}

async function uploadDocument() {
  const file = el.file.files && el.file.files[0];
  if (!shown || !file) return;
  const project = shown;
  el.file.disabled = true;
  const ok = await changed(project, { doing: "Adding " + file.name + "…", done: "Added " + file.name + ".",
    failed: "Couldn't add " + file.name + "." }, () => api.uploadProjectDocument(project.id, file));
  el.file.disabled = false;
  el.file.value = "";
  if (ok) documentsChanged(project.id);
}

async function removeDocument(project, doc, button) {
  if (!confirmed(button, "Really remove " + doc.name + "?")) return;
  if (await changed(project, { doing: "Removing " + doc.name + "…", done: "Removed " + doc.name + ".",
    failed: "Couldn't remove " + doc.name + "." }, () => api.deleteProjectDocument(project.id, doc.id))) {
    documentsChanged(project.id);
  }
}

async function shareProject(event) {
  event.preventDefault();
  if (!shown) return;
  const username = el.shareUser.value.trim();
  const role = el.shareRole.value;
  if (!username) {
    setError(el.error, "Type the username of the person to share the project with.");
    el.shareUser.focus();
    return;
  }
  if (await changed(shown, { doing: "Sharing…", done: "Shared with " + username + " (" + ROLE_WORDS[role] + ").",
    failed: "Couldn't share the project." }, () => api.addProjectMember(shown.id, { username, role }))) {
    el.shareUser.value = "";
  }
}

async function removeMember(project, member, button) {
  if (!confirmed(button, "Really remove " + member.name + "?")) return;
  await changed(project, { doing: "Removing " + member.name + "…", done: member.name + " no longer has access.",
    failed: "Couldn't remove " + member.name + "." }, () => api.removeProjectMember(project.id, member.id));
}

// --- a chat in a project -------------------------------------------------------------------

async function startChat(project) {
  try {
    const conv = await api.createConversation({ project: project.id, model: page.modelSelect.value || undefined });
    if (el.dialog.open) el.dialog.close();
    closeSidebar();
    upsertConversation(conv);
    await upcalls.navigate(conv.id, { push: true, known: conv });
    toast("New chat in the project “" + project.name + "”.");
    page.input.focus();
  } catch (err) {
    const words = "Couldn't start a chat in “" + project.name + "”. " + problem(err);
    if (el.dialog.open) setError(el.error, words);
    else toast(words, "error");
  }
}

/** The open conversation's project in the header, and the notice when its documents changed
 * since the chat began (GET /api/conversations/<id>/'s `project_changed`). */
function showProject() {
  const conv = state.current;
  const project = conv && conv.project ? projectOf(conv.project) : null;
  el.header.hidden = !project;
  el.note.hidden = !(project && conv.project_changed);
  if (project) {
    el.header.textContent = "Project: " + project.name;
    el.noteNewChat.textContent = "New chat in " + project.name;
  }
  for (const item of el.list.children) {
    item.classList.toggle("is-current", !!project && item.dataset.id === String(project.id));
  }
}

/** A project's documents changed here: the open conversation, if it is in that project, may
 * now be one that goes on with the documents it began with. */
async function documentsChanged(projectId) {
  if (!state.current || state.current.project !== projectId) return;
  const token = state.loadToken;
  try {
    const conv = await api.getConversation(state.currentId);
    if (token !== state.loadToken || !state.current) return;
    state.current.project_changed = !!conv.project_changed;
    showProject();
  } catch (_err) {
    // The notice comes with the next reading of the conversation.
  }
}

function wireProjects() {
  el.newButton.addEventListener("click", openNewProject);
  el.newForm.addEventListener("submit", createProject);
  el.newCancel.addEventListener("click", () => el.newDialog.close());
  el.close.addEventListener("click", () => el.dialog.close());
  el.start.addEventListener("click", () => shown && startChat(shown));
  el.file.addEventListener("change", uploadDocument);
  el.share.addEventListener("submit", shareProject);
  el.header.addEventListener("click", () => state.current && openProject(state.current.project));
  el.noteNewChat.addEventListener("click", () => {
    const project = state.current && projectOf(state.current.project);
    if (project) startChat(project);
  });
  // Shared with this user in the meantime: read again when the tab comes back (every 2 s at most).
  const again = () => {
    if (state.projectsLoaded && Date.now() - listReadAt > 2000) loadProjects();
  };
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) again();
  });
  window.addEventListener("focus", again);
}

export { loadProjects, showProject, wireProjects };
