/* chatapp — the Batch jobs page (docs/batch-jobs.md, docs/protocol.md "Batch jobs").
 *
 * An ES module, separate from the chat page's. Two views: /batch-jobs/ (choose or upload
 * documents, write the prompt, see the estimate, submit; the list of jobs) and
 * /batch-jobs/<id>/ (live progress, cancel, results, downloads, follow-up conversations).
 * Progress is fetched every few seconds: the poller that updates a job runs in its own
 * process, so there is no socket to push it. Names, prompts and errors are shown as text;
 * answers are markdown, rendered and sanitised by render.js as on the chat page.
 */

import { api } from "./lib/api.js";
import { $, h } from "./lib/dom.js";
import { formatInt as number, inputTokens } from "./lib/format.js";
import { readJson } from "./lib/json.js";
// The one rule for amounts, as on the chat page.
import { formatCost as money } from "./lib/money.js";
import * as render from "./render.js";

const POLL_MS = 2000;
const ESTIMATE_DELAY_MS = 300;
const JOB_WORDS = {
  submitting: "Submitting…",
  in_progress: "In progress",
  cancelling: "Cancelling…",
  ended: "Finished",
};
const ITEM_WORDS = {
  processing: "Processing",
  succeeded: "Answered",
  errored: "Error",
  cancelled: "Cancelled",
  expired: "Expired",
};

const banner = $("banner");

function showError(error) {
  banner.textContent = error && error.message ? error.message : String(error);
  banner.hidden = false;
}

function clearError() {
  banner.hidden = true;
  banner.textContent = "";
}

// --- the new-job view ---------------------------------------------------------------

function initNewJob() {
  const form = $("new-job");
  const list = $("documents");
  const prompt = $("job-prompt-input");
  const model = $("job-model-select");
  const maxTokens = $("job-max-tokens");
  const estimate = $("estimate");
  const submit = $("submit-job");
  const uploadStatus = $("upload-status");
  const models = new Map((readJson("models-data") || []).map((m) => [m.id, m]));
  let estimateTimer = null;
  let estimateCall = 0;

  function chosenIds() {
    return [...list.querySelectorAll("input[type=checkbox]:checked")].map((box) => Number(box.value));
  }

  function body() {
    return {
      document_ids: chosenIds(),
      prompt: prompt.value,
      model: model.value,
      max_tokens: Number(maxTokens.value) || undefined,
    };
  }

  function documentRow(doc, checked) {
    const box = h("input", { type: "checkbox", id: "document-" + doc.id, value: String(doc.id), checked: !!checked });
    const facts = [doc.pages ? number(doc.pages) + " pages" : null, number(doc.tokens) + " tokens"];
    const label = h("label", { for: box.id },
      h("span", { class: "batch-document-name", text: doc.name }),
      h("span", { class: "batch-hint", text: " " + facts.filter(Boolean).join(" · ") }));
    return h("li", {}, box, label);
  }

  function addDocument(doc, checked) {
    $("documents-empty").hidden = true;
    list.prepend(documentRow(doc, checked));
  }

  async function loadDocuments() {
    const data = await api.request("GET", "/api/batch-documents/");
    list.replaceChildren(...data.documents.map((doc) => documentRow(doc, false)));
    $("documents-empty").hidden = data.documents.length > 0;
  }

  function updateLimitHint() {
    const facts = models.get(model.value);
    if (!facts) return;
    const longest = Math.max(facts.max_output_tokens, facts.batch_max_output_tokens);
    maxTokens.max = String(longest);
    $("max-tokens-hint").textContent =
      longest > facts.max_output_tokens
        ? "Up to " + number(longest) + ". Above " + number(facts.max_output_tokens) +
          " the long-output batch beta is used."
        : "Up to " + number(longest) + ".";
  }

  function canSubmit() {
    submit.disabled = !(chosenIds().length && prompt.value.trim());
  }

  async function refreshEstimate() {
    const call = ++estimateCall;
    const request = body();
    if (!request.document_ids.length) {
      estimate.textContent = "Choose documents to see the estimated cost.";
      return;
    }
    try {
      const result = await api.request("POST", "/api/batch-jobs/estimate/", request);
      if (call !== estimateCall) return; // a newer estimate is on its way
      estimate.textContent =
        "Estimated cost: up to " + money(result.batch_usd) + " at batch prices (up to " +
        money(result.interactive_usd) + " as interactive requests) · " +
        number(result.documents) + " documents, about " + number(result.input_tokens) +
        " input tokens, at most " + number(result.max_output_tokens) + " output tokens.";
    } catch (error) {
      if (call === estimateCall) estimate.textContent = error.message;
    }
  }

  function changed() {
    canSubmit();
    clearTimeout(estimateTimer);
    estimateTimer = setTimeout(refreshEstimate, ESTIMATE_DELAY_MS);
  }

  async function upload(files) {
    const all = [...files];
    let done = 0;
    for (const file of all) {
      uploadStatus.textContent = "Uploading " + (done + 1) + " of " + all.length + "…";
      const form = new FormData();
      form.append("file", file);
      form.append("model", model.value);
      try {
        addDocument(await api.request("POST", "/api/batch-documents/", form), true);
      } catch (error) {
        showError(new Error(file.name + ": " + error.message));
      }
      done += 1;
    }
    uploadStatus.textContent = "Uploaded " + done + " of " + all.length + ".";
    changed();
  }

  async function loadJobs() {
    const data = await api.request("GET", "/api/batch-jobs/");
    const rows = data.jobs.map((job) => {
      const link = h("a", { href: "/batch-jobs/" + job.id + "/", text: "Job " + job.id });
      const done = job.counts.succeeded + job.counts.errored + job.counts.cancelled + job.counts.expired;
      const total = done + job.counts.processing;
      const summary = " · " + (JOB_WORDS[job.status] || job.status) + " · " + done + " of " + total +
        " done · " + money(job.cost_usd) + " · " + job.prompt.slice(0, 80);
      return h("li", {}, link, h("span", { text: summary }));
    });
    $("jobs").replaceChildren(...rows);
    $("jobs-empty").hidden = rows.length > 0;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearError();
    submit.disabled = true;
    try {
      const job = await api.request("POST", "/api/batch-jobs/", body());
      window.location.assign("/batch-jobs/" + job.id + "/");
    } catch (error) {
      showError(error);
      canSubmit();
    }
  });
  $("upload-input").addEventListener("change", (event) => {
    clearError();
    upload(event.target.files).finally(() => (event.target.value = ""));
  });
  $("select-all").addEventListener("click", () => {
    list.querySelectorAll("input[type=checkbox]").forEach((box) => (box.checked = true));
    changed();
  });
  list.addEventListener("change", changed);
  prompt.addEventListener("input", changed);
  maxTokens.addEventListener("input", changed);
  model.addEventListener("change", () => {
    updateLimitHint();
    changed();
  });

  updateLimitHint();
  loadDocuments().catch(showError);
  loadJobs().catch(showError);
}

// --- the job view -------------------------------------------------------------------

function initJob(jobId) {
  const base = "/api/batch-jobs/" + jobId + "/";
  const cancel = $("cancel-job");
  let lastItems = "";

  function itemRow(item) {
    const answer = h("div", { class: "batch-answer" });
    if (item.error) {
      answer.classList.add("batch-answer-error");
      answer.textContent = item.error.message;
    } else {
      answer.classList.add("md");
      render.renderMarkdown(answer, item.text); // sanitised (render.js)
    }
    const follow = h("td");
    if (item.status === "succeeded") {
      follow.append(h("button", { type: "button", class: "btn btn-small", "data-item-id": String(item.id), text: "Ask a follow-up" }));
    }
    const tokens = item.status === "succeeded"
      ? number(inputTokens(item.usage)) + " / " + number(item.usage.output_tokens)
      : "";
    return h("tr", {},
      h("th", { scope: "row", text: item.document_name }),
      h("td", {}, h("span", {
        class: "batch-status batch-status-" + item.status,
        text: ITEM_WORDS[item.status] || item.status,
      })),
      h("td", {}, answer),
      h("td", { class: "batch-number-cell", text: tokens }),
      h("td", {
        class: "batch-number-cell",
        text: item.status === "succeeded" ? money(item.cost_usd) : "",
      }),
      follow);
  }

  function show(job) {
    const total = Object.values(job.counts).reduce((sum, n) => sum + n, 0);
    $("job-status").textContent = JOB_WORDS[job.status] || job.status;
    $("job-status").dataset.status = job.status;
    $("job-model").textContent = job.model + ", up to " + number(job.max_tokens) + " tokens each";
    $("job-cost").textContent = money(job.cost_usd) + " so far at batch prices";
    $("job-prompt").textContent = job.prompt;
    for (const [name, count] of Object.entries(job.counts)) {
      const cell = document.querySelector('[data-count="' + name + '"]');
      if (cell) cell.textContent = number(count);
    }
    const progress = $("job-progress");
    progress.max = Math.max(total, 1);
    progress.value = total - job.counts.processing;
    cancel.hidden = job.status === "ended" || job.cancel_requested;
    const items = JSON.stringify(job.items);
    if (items !== lastItems) {
      lastItems = items;
      $("job-items").replaceChildren(...job.items.map(itemRow));
    }
  }

  async function refresh() {
    try {
      const job = await api.request("GET", base);
      show(job);
      if (job.status !== "ended") setTimeout(refresh, POLL_MS);
    } catch (error) {
      showError(error);
      setTimeout(refresh, POLL_MS * 3);
    }
  }

  cancel.addEventListener("click", async () => {
    clearError();
    cancel.disabled = true;
    try {
      show({ ...(await api.request("POST", base + "cancel/")), items: JSON.parse(lastItems || "[]") });
    } catch (error) {
      showError(error);
    } finally {
      cancel.disabled = false;
    }
  });

  $("job-items").addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-item-id]");
    if (!button) return;
    button.disabled = true;
    try {
      const created = await api.request("POST", base + "items/" + button.dataset.itemId + "/conversation/");
      window.location.assign(created.url);
    } catch (error) {
      showError(error);
      button.disabled = false;
    }
  });

  refresh();
}

const jobId = readJson("job-id");
if (jobId) initJob(jobId);
else initNewJob();
