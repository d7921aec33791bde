// The live view of a prediction (templates/inference/prediction_output.html): renders its state
// and follows its event stream over the websocket until it is done.
"use strict";

const TERMINAL = new Set(["succeeded", "failed", "canceled", "aborted"]);
// What the page says a prediction is doing: queued (no worker has it yet), booting (a worker
// has it and is starting its model: a cold boot), running, then its final status.
const PHASES = {
  queued: { label: "Queued", note: "waiting for a worker" },
  booting: { label: "Booting", note: "starting the model (cold boot)" },
  running: { label: "Running", note: "" },
  succeeded: { label: "Succeeded" },
  failed: { label: "Failed" },
  canceled: { label: "Canceled" },
  aborted: { label: "Aborted", note: "its deadline passed before it started" },
};

function phaseOf(status) {
  if (status === "starting") return "queued";
  if (status === "processing") return "running";
  return status;
}

// A stream entry's id starts with the server's time of it in milliseconds.
function entryTime(id) {
  const ms = Number(String(id || "").split("-")[0]);
  return Number.isFinite(ms) && ms > 0 ? ms : null;
}

function duration(seconds, precise) {
  const s = Math.max(0, seconds);
  if (s < 60) return precise ? `${s.toFixed(1)} s` : `${Math.floor(s)} s`;
  return `${Math.floor(s / 60)} min ${Math.floor(s % 60)} s`;
}

const IMAGE = /\.(png|jpe?g|gif|webp|bmp|svg|avif)$/i;
const AUDIO = /\.(mp3|wav|ogg|oga|flac|m4a|aac)$/i;
const VIDEO = /\.(mp4|webm|mov|m4v|ogv)$/i;

function mediaKind(value) {
  if (typeof value !== "string") return null;
  const data = /^data:(image|audio|video)\//i.exec(value);
  if (data) return data[1].toLowerCase();
  if (!/^(https?:\/\/|\/)/i.test(value)) return null;
  const path = value.split(/[?#]/)[0];
  if (IMAGE.test(path)) return "image";
  if (AUDIO.test(path)) return "audio";
  if (VIDEO.test(path)) return "video";
  return /^https?:\/\//i.test(value) ? "link" : null;
}

function renderValue(value) {
  const kind = mediaKind(value);
  if (kind === "image") {
    const img = document.createElement("img");
    img.src = value;
    img.alt = "Output image";
    img.className = "output-media";
    return img;
  }
  if (kind === "audio" || kind === "video") {
    const media = document.createElement(kind);
    media.src = value;
    media.controls = true;
    media.className = "output-media";
    return media;
  }
  if (kind === "link") {
    const link = document.createElement("a");
    link.href = value;
    link.textContent = value;
    link.rel = "noopener";
    return link;
  }
  const pre = document.createElement("pre");
  if (typeof value === "string") {
    pre.className = "output-text";
    pre.textContent = value;
  } else {
    pre.className = "output-json code";
    pre.textContent = JSON.stringify(value, null, 2);
  }
  return pre;
}

class PredictionView {
  constructor(root) {
    this.root = root;
    this.parts = {};
    for (const name of ["status", "elapsed", "output", "logs", "error", "metrics", "link"]) {
      this.parts[name] = root.querySelector(`[data-${name}]`);
    }
    this.cancelForm = root.querySelector("[data-cancel-form]");
    this.cancelForm.addEventListener("submit", (event) => this.cancel(event));
  }

  show(state) {
    this.close();
    this.state = { ...state, output: state.output, logs: state.logs || "" };
    const times = state.times || {};
    this.times = { ...times };
    this.clockOffset = times.now ? times.now - Date.now() : 0; // the server's clock minus ours
    this.phase = phaseOf(state.status);
    this.phaseSince = this.phase === "queued" ? times.created : (times.started ?? times.created);
    this.root.hidden = false;
    this.parts.link.href = state.url;
    this.parts.link.textContent = state.id;
    this.cancelForm.action = state.cancel_url;
    this.render();
    if (!TERMINAL.has(state.status)) this.follow();
  }

  render() {
    const { status, error, logs, metrics } = this.state;
    if (TERMINAL.has(status)) this.phase = status;
    this.renderStatus();
    this.parts.error.hidden = !error;
    this.parts.error.textContent = error || "";
    this.parts.logs.textContent = logs;
    this.renderOutput();
    this.renderMetrics(metrics || {});
  }

  renderOutput() {
    const { output, display } = this.state;
    const box = this.parts.output;
    box.replaceChildren();
    this.streamText = null;
    if (output === null || output === undefined) return;
    if (Array.isArray(output) && display === "concatenate") {
      this.streamText = renderValue(output.join(""));
      box.append(this.streamText);
    } else if (Array.isArray(output) && output.length && output.every((item) => mediaKind(item))) {
      output.forEach((item) => box.append(renderValue(item)));
    } else if (Array.isArray(output) && display === "iterator") {
      output.forEach((item) => box.append(renderValue(item)));
    } else {
      box.append(renderValue(output));
    }
  }

  renderMetrics(metrics) {
    const rows = [];
    if (metrics.predict_time !== undefined) rows.push(["Run time", `${metrics.predict_time.toFixed(2)} s`]);
    if (metrics.total_time !== undefined) rows.push(["Total time", `${metrics.total_time.toFixed(2)} s`]);
    if (metrics.cold_boot && metrics.setup_time !== undefined) rows.push(["Setup (cold boot)", `${metrics.setup_time.toFixed(2)} s`]);
    if (metrics.cost !== undefined) rows.push(["Cost", `$${metrics.cost}`]);
    this.parts.metrics.replaceChildren(...rows.flatMap(([term, value]) => {
      const dt = document.createElement("dt");
      const dd = document.createElement("dd");
      dt.textContent = term;
      dd.textContent = value;
      return [dt, dd];
    }));
  }

  // The stream replays every event from the start, so the view starts from empty output and logs.
  follow() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}${this.state.websocket}`);
    this.socket = socket;
    this.state.output = this.state.display === "single" ? null : [];
    this.state.logs = "";
    this.render();
    socket.addEventListener("message", (message) => this.onEvent(JSON.parse(message.data)));
    socket.addEventListener("close", () => {
      if (this.socket === socket && !TERMINAL.has(this.state.status)) {
        this.stopTicking();
        this.parts.error.hidden = false;
        this.parts.error.textContent = "Lost the live connection; reload the page to see the latest state.";
      }
    });
  }

  serverNow() {
    return Date.now() + this.clockOffset;
  }

  // The status badge says the phase (announced once per change); beside it, how long it has
  // lasted, ticking while it is not over, then how long the whole prediction took.
  renderStatus() {
    const { status } = this.state;
    const phase = PHASES[this.phase] ? this.phase : phaseOf(status);
    const badge = this.parts.status;
    badge.textContent = PHASES[phase]?.label || status;
    badge.dataset.statusValue = status;
    badge.dataset.phase = phase;
    this.cancelForm.hidden = TERMINAL.has(status);
    if (TERMINAL.has(status)) this.stopTicking();
    else this.startTicking();
    this.renderElapsed();
  }

  renderElapsed() {
    const box = this.parts.elapsed;
    if (!box) return;
    const { status, metrics } = this.state;
    const { created, completed } = this.times;
    let text = "";
    if (TERMINAL.has(status)) {
      const total = metrics?.total_time ?? (created ? ((completed ?? this.serverNow()) - created) / 1000 : null);
      if (total !== null && total !== undefined) text = `in ${duration(total, true)}`;
      const note = PHASES[status]?.note; // why an aborted one never ran
      if (note) text = [text, note].filter(Boolean).join(" · ");
    } else if (this.phaseSince) {
      const note = PHASES[this.phase]?.note;
      text = [note, duration((this.serverNow() - this.phaseSince) / 1000, false)].filter(Boolean).join(" · ");
    }
    box.textContent = text;
  }

  startTicking() {
    if (!this.ticker) this.ticker = setInterval(() => this.renderElapsed(), 250);
  }

  stopTicking() {
    clearInterval(this.ticker);
    this.ticker = null;
  }

  setPhase(phase, since) {
    if (this.state.status === "starting") this.state.status = "processing";
    if (this.phase !== phase) {
      this.phase = phase;
      this.phaseSince = since ?? this.serverNow();
    }
    this.renderStatus();
  }

  onEvent({ event, data, id }) {
    const at = entryTime(id);
    if (event === "start") {
      this.setPhase(data && data.booting ? "booting" : "running", at);
    } else if (event === "running") {
      this.setPhase("running", at);
    } else if (event === "output") {
      if (this.phase === "queued" || this.phase === "booting") this.setPhase("running", at);
      if (Array.isArray(this.state.output)) {
        this.state.output.push(data);
        if (this.streamText && typeof data === "string") {
          this.streamText.append(data); // token by token, without re-rendering what is there
        } else {
          this.renderOutput();
        }
      } else {
        this.state.output = data;
        this.renderOutput();
      }
    } else if (event === "logs") {
      if (this.phase === "queued" || this.phase === "booting") this.setPhase("running", at);
      this.state.logs += data;
      this.parts.logs.append(data);
      this.parts.logs.scrollTop = this.parts.logs.scrollHeight;
    } else if (event === "done") {
      Object.assign(this.state, data);
      if (data.completed_at) this.times.completed = Date.parse(data.completed_at);
      this.close();
      this.render();
    }
  }

  async cancel(event) {
    event.preventDefault();
    const body = new FormData(this.cancelForm);
    const response = await fetch(this.cancelForm.action, {
      method: "POST", body, headers: { Accept: "application/json" }, credentials: "same-origin",
    });
    if (response.ok) {
      const { status } = await response.json();
      if (TERMINAL.has(status) && this.state.status !== status) {
        this.state.status = status;
        this.render();
      }
    }
  }

  close() {
    this.stopTicking();
    if (this.socket) {
      const socket = this.socket;
      this.socket = null;
      socket.close();
    }
  }
}

window.HearthPrediction = { PredictionView, mediaKind, renderValue };
