/* chatapp — the composer's line about this month's spend (GET /api/budget/).
 *
 * Shows what was spent and what is left of the monthly budget; from 80% it is a warning, at
 * 100% it says new messages are refused (the server refuses them with `budget_exceeded`). With
 * groups' budgets (issue 21) the server sends the one nearest its limit, and the line names it
 * when it is not the user's own ("the monthly budget of the group Legal").
 * Refreshed after every reply (the `chatapp:reply-finished` event chat/replies.js sends) and when
 * the tab comes back into view.
 */

import { api } from "./lib/api.js";
// The page's one rule for amounts.
import { formatCost as money } from "./lib/money.js";

/** Shows the line and keeps it current; does nothing on a page without it. */
function startBudgetLine() {
  const node = document.getElementById("budget-status");
  if (!node) return;

  function renewal(isoDate) {
    const day = new Date(isoDate + "T00:00:00Z");
    return day.toLocaleDateString(undefined, { day: "numeric", month: "long", timeZone: "UTC" });
  }

  // A group's budget is named; the user's own (or the default) is "your monthly budget".
  function groupsBudget(budget) {
    const which = budget.budget;
    return which && (which.kind === "group" || which.kind === "member") ? which.label : null;
  }

  function describe(budget) {
    const spent = money(budget.spent_usd);
    if (budget.limit_usd === null) return { text: "This month: " + spent, level: "" };
    const limit = money(budget.limit_usd);
    const named = groupsBudget(budget);
    if (budget.exceeded) {
      const what = named ? named.charAt(0).toUpperCase() + named.slice(1) + " is used up" : "Monthly budget used up";
      return {
        text: what + " (" + spent + " of " + limit + "). New messages are refused until " + renewal(budget.renews_on) + ".",
        level: "exceeded",
      };
    }
    const left = money(budget.remaining_usd);
    if (budget.warning) {
      const share = Math.floor(budget.share_used * 100);
      return { text: "You have used " + share + "% of " + (named || "your monthly budget") + ": " + spent + " of " + limit + ", " + left + " left.", level: "warning" };
    }
    const of = named ? " (" + named + ")" : "";
    return { text: "This month: " + spent + " of " + limit + " · " + left + " left" + of, level: "" };
  }

  function show(budget) {
    const { text, level } = describe(budget);
    node.textContent = text;
    node.dataset.level = level;
    node.classList.toggle("is-warning", level === "warning");
    node.classList.toggle("is-exceeded", level === "exceeded");
    node.hidden = false;
  }

  let inFlight = null;
  function refresh() {
    if (inFlight) return inFlight;
    inFlight = api.getBudget()
      .then(show)
      .catch(() => {
        node.hidden = true; // a spend line we cannot fetch is left out, not guessed
      })
      .finally(() => {
        inFlight = null;
      });
    return inFlight;
  }

  document.addEventListener("chatapp:reply-finished", refresh);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) refresh();
  });
  refresh();
}

startBudgetLine();
