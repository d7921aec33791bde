// The playground: Run posts the form to the server, which validates it (errors come back per
// field and are shown next to each) and creates a web prediction that the output panel follows.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("[data-playground]");
  if (!form) return;
  const view = new window.HearthPrediction.PredictionView(document.querySelector("[data-prediction-view]"));
  const panel = document.querySelector("[data-output-panel]");
  const placeholder = document.querySelector("[data-output-placeholder]");
  const formError = form.querySelector("[data-form-error]");
  const runButton = form.querySelector("[data-run]");

  function clearErrors() {
    formError.hidden = true;
    formError.textContent = "";
    for (const field of form.querySelectorAll("[data-field]")) {
      field.classList.remove("has-error");
      const message = field.querySelector(".field-error");
      message.hidden = true;
      message.textContent = "";
      field.querySelector("input, select, textarea")?.removeAttribute("aria-invalid");
    }
  }

  function showErrors(errors) {
    let first = null;
    for (const [name, messages] of Object.entries(errors)) {
      const field = form.querySelector(`[data-field="${CSS.escape(name)}"]`);
      if (!field) {
        formError.hidden = false;
        formError.textContent = [formError.textContent, ...messages].filter(Boolean).join(" ");
        continue;
      }
      field.classList.add("has-error");
      const message = field.querySelector(".field-error");
      message.textContent = messages.join(" ");
      message.hidden = false;
      const control = field.querySelector("input, select, textarea");
      control?.setAttribute("aria-invalid", "true");
      first = first || control;
    }
    (first || formError).focus?.();
  }

  // After Run the output panel is where things happen: on a long form, or a narrow screen
  // where it sits below the form, it is scrolled into view unless enough of it shows already;
  // focus moves there too (Run was disabled while posting, which took focus from it).
  function revealOutput() {
    const rect = panel.getBoundingClientRect();
    const enough = Math.min(rect.height, window.innerHeight / 2);
    if (rect.top < 0 || rect.top > window.innerHeight - enough) {
      const still = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
      panel.scrollIntoView({ block: "start", behavior: still ? "auto" : "smooth" });
    }
    panel.focus({ preventScroll: true });
  }

  form.addEventListener("reset", clearErrors);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    runButton.disabled = true;
    runButton.textContent = "Running…";
    try {
      const response = await fetch(form.action, {
        method: "POST", body: new FormData(form), headers: { Accept: "application/json" }, credentials: "same-origin",
      });
      const body = await response.json().catch(() => ({ errors: { __all__: [`The server answered ${response.status}.`] } }));
      if (!response.ok) {
        showErrors(body.errors || { __all__: [`The server answered ${response.status}.`] });
        return;
      }
      placeholder.hidden = true;
      view.show({ ...body, output: null, logs: "", error: null, metrics: {}, display: form.dataset.display });
      revealOutput();
    } catch (error) {
      showErrors({ __all__: [`Could not reach the server: ${error.message}`] });
    } finally {
      runButton.disabled = false;
      runButton.textContent = "Run";
    }
  });
});
