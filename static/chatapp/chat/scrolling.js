/* chatapp chat page — the conversation sticks to its bottom while the reader is there;
 * "Jump to latest" takes them back once they scrolled up. */

import { el, state } from "./state.js";

function distanceFromBottom() {
  const s = el.scroller;
  return s.scrollHeight - s.scrollTop - s.clientHeight;
}

function scrollToBottom() {
  el.scroller.scrollTop = el.scroller.scrollHeight;
  state.stickToBottom = true;
}

function updateJumpButton() {
  el.jump.hidden = state.stickToBottom || distanceFromBottom() < 80;
}

function wireScrolling() {
  // Only the reader scrolling up unsticks the view; content growing below never does.
  let lastScrollTop = el.scroller.scrollTop;
  el.scroller.addEventListener("scroll", () => {
    const top = el.scroller.scrollTop;
    if (distanceFromBottom() < 40) state.stickToBottom = true;
    else if (top < lastScrollTop - 1) state.stickToBottom = false;
    lastScrollTop = top;
    updateJumpButton();
  }, { passive: true });
  el.jump.addEventListener("click", () => {
    scrollToBottom();
    updateJumpButton();
    el.input.focus();
  });
}

export { scrollToBottom, updateJumpButton, wireScrolling };
