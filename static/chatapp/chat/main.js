/* chatapp — the chat page: sidebar, conversation view, composer and live replies.
 *
 * The template loads this module; the page's parts are the modules beside it (state.js lists
 * them). render.js needs the vendored marked, DOMPurify and highlight.js, which the template
 * loads first. comforts.js, settings.js and estimate.js take what they use from the parts.
 */

import { attachments } from "../attachments.js";
import { wireMessageActions } from "./actions.js";
import { ensureConversation, wireComposer } from "./composer.js";
import { watchSilence } from "./connection.js";
import { setModel, updateComposer } from "./controls.js";
import { fileConversation, wireFiling } from "./filing.js";
import { navigate, wireNavigation } from "./navigation.js";
import { announce, keepToastsClearOfComposer, toast } from "./notices.js";
import { loadProjects, wireProjects } from "./projects.js";
import { wireScrolling } from "./scrolling.js";
import { loadConversations, wireSidebar } from "./sidebar.js";
import { DEFAULT_MODEL, INITIAL_ID, el, upcalls } from "./state.js";

// --- start ---------------------------------------------------------------------------
upcalls.navigate = navigate;
upcalls.fileConversation = fileConversation;
attachments.init({
  ensureConversation,
  currentModel: () => el.modelSelect.value,
  onChange: () => updateComposer(),
  toast,
  announce,
});
wireComposer();
wireNavigation();
wireFiling();
wireSidebar();
wireProjects();
wireMessageActions();
wireScrolling();
keepToastsClearOfComposer();
setModel(DEFAULT_MODEL);
loadConversations();
loadProjects();
watchSilence();
navigate(typeof INITIAL_ID === "number" ? INITIAL_ID : null, { push: false, keepFocus: false });
