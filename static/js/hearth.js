// Small behaviours shared by the dashboard pages: copy buttons and confirmed forms.
"use strict";

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy-target]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copyTarget);
  const text = "value" in source && source.tagName === "INPUT" ? source.value : source.textContent;
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // Clipboard access needs a secure context; selecting the text still lets people copy by hand.
    if (source.select) source.select();
    else window.getSelection().selectAllChildren(source);
  }
  const label = button.firstChild;
  const original = label.textContent;
  label.textContent = "Copied";
  setTimeout(() => { label.textContent = original; }, 1500);
});

document.addEventListener("submit", (event) => {
  const message = event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});

// A page answering a POST with something shown once (a new token): reloading it must not post
// again, so the history entry becomes a plain GET of the same address.
if (document.querySelector("[data-no-resubmit]")) {
  history.replaceState(null, "", location.href);
}
