// The official JavaScript client (`replicate` 1.4.0, pinned in package-lock.json) against a
// running Hearth platform. Run by tests/e2e/test_js_client.py, which asserts on what this prints.
//
// Configuration comes as JSON in HEARTH_JS_CONFIG:
//   {"url": "http://127.0.0.1:PORT", "alice": "<token>", "bob": "<token>", "versions": {"echo": "<id>", ...}}
// Each check runs in turn; its outcome is recorded as {ok: true, value} or {ok: false, error}, so
// one broken check does not hide the others. Everything is printed as one JSON object on stdout.

import { createHash } from "node:crypto";

import Replicate from "replicate";

const config = JSON.parse(process.env.HEARTH_JS_CONFIG);
const baseUrl = `${config.url}/v1`; // the JS client's base URL includes /v1 (replicate-api.md §11)
const alice = new Replicate({ auth: config.alice, baseUrl });
const bob = new Replicate({ auth: config.bob, baseUrl });
const versions = config.versions;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function describe(error) {
  return {
    name: error?.name ?? null,
    message: String(error?.message ?? error),
    status: error?.response?.status ?? null,
  };
}

const results = {};

async function check(name, fn) {
  const started = performance.now();
  try {
    results[name] = { ok: true, value: await fn() };
  } catch (error) {
    results[name] = { ok: false, error: describe(error) };
  }
  results[name].ms = Math.round(performance.now() - started);
}

// What a call throws, as data (or {threw: false} with the value if it did not throw).
async function thrown(fn) {
  try {
    return { threw: false, value: await fn() };
  } catch (error) {
    return { threw: true, ...describe(error) };
  }
}

async function pollUntil(client, id, done, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const prediction = await client.predictions.get(id);
    if (done(prediction)) return prediction;
    if (Date.now() > deadline) throw new Error(`prediction ${id} still ${prediction.status}`);
    await sleep(50);
  }
}

const summary = (p) => ({
  id: p.id,
  model: p.model,
  version: p.version,
  status: p.status,
  input: p.input,
  output: p.output,
  error: p.error,
  logs: p.logs,
  urls: p.urls,
  created_at: p.created_at,
  started_at: p.started_at,
  completed_at: p.completed_at,
  deadline: p.deadline,
  metrics: p.metrics,
});

// `promise`, or an error after `ms` instead of a run that hangs. The timer is cleared: a pending
// one would keep node running until it fires.
async function within(ms, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

await check("run_by_model_name", () => alice.run("alice/echo", { input: { text: "hello from js" } }));

await check("run_by_version", () => alice.run(`alice/echo:${versions.echo}`, { input: { text: "pinned" } }));

await check("run_in_poll_mode", () =>
  alice.run("alice/echo", { input: { text: "polled" }, wait: { mode: "poll", interval: 100 } }),
);

await check("run_iterator_model", () => alice.run("alice/tokens", { input: { text: "one two three" } }));

await check("create_wait_get", async () => {
  const created = await alice.predictions.create({ version: versions.echo, input: { text: "async" } });
  const waited = await alice.wait(created, { interval: 100 });
  const got = await alice.predictions.get(created.id);
  return { created: summary(created), waited: summary(waited), got: summary(got) };
});

await check("create_by_model_blocking", async () => {
  const prediction = await alice.predictions.create({ model: "alice/echo", input: { text: "blocked" }, wait: 30 });
  return summary(prediction);
});

await check("list_and_paginate", async () => {
  const ids = [];
  for (let index = 0; index < 7; index++) {
    const prediction = await alice.predictions.create({ version: versions.echo, input: { text: `page ${index}` } });
    ids.push(prediction.id);
  }
  const first = await alice.predictions.list();
  const pages = [];
  for await (const page of alice.paginate(alice.predictions.list)) {
    pages.push(page.map((prediction) => prediction.id));
    if (pages.flat().length >= ids.length) break; // alice's older predictions follow: enough
  }
  const bobs = await bob.predictions.list();
  return {
    created: ids,
    first: { ids: first.results.map((p) => p.id), next: first.next, previous: first.previous ?? null },
    pages,
    bobs: bobs.results.map((p) => p.id),
  };
});

await check("cancel", async () => {
  const created = await alice.predictions.create({ version: versions.sleeper, input: { seconds: 60 } });
  await pollUntil(alice, created.id, (p) => (p.logs ?? "").includes("sleeping"));
  const started = performance.now();
  const canceled = await alice.predictions.cancel(created.id);
  const final = await pollUntil(alice, created.id, (p) => ["succeeded", "failed", "canceled"].includes(p.status), 15_000);
  return {
    cancel_response: summary(canceled),
    final: summary(final),
    seconds_to_canceled: (performance.now() - started) / 1000,
  };
});

await check("stream", async () => {
  const events = [];
  for await (const event of alice.stream("alice/tokens", { input: { text: "a stream of tokens", delay: 0.05 } })) {
    events.push({ event: event.event, data: event.data, id: event.id ?? null, text: String(event) });
  }
  return events;
});

await check("stream_by_version", async () => {
  const events = [];
  for await (const event of alice.stream(`alice/tokens:${versions.tokens}`, { input: { text: "x y" } })) {
    events.push({ event: event.event, data: event.data });
  }
  return events;
});

await check("stream_of_a_model_that_does_not_stream", () =>
  thrown(async () => {
    for await (const _ of alice.stream("alice/echo", { input: { text: "no" } })) {
      // never reached
    }
  }),
);

// Cancel-After (inference/api/deadlines.py): a prediction past its deadline before it starts is
// `aborted`. This client is told `canceled`: its Status type lists `aborted`, but its wait(), which
// run() polls through, stops only on succeeded, failed or canceled, as the last part shows with a
// client under another User-Agent, which is told `aborted`. It keeps the solo worker busy for 7 s,
// so it runs beside the checks that need no worker (models, versions, files, hardware, account).
async function deadlinePassedBeforeStart() {
  const withCancelAfter = (duration) =>
    new Replicate({
      auth: config.alice,
      baseUrl,
      fetch: (url, init = {}) => fetch(url, { ...init, headers: { ...init.headers, "Cancel-After": duration } }),
    });
  const late = withCancelAfter("5s");
  // The solo worker is busy with this one for 7 s: the next ones pass their deadline in the queue.
  const blocker = await alice.predictions.create({ version: versions.sleeper, input: { seconds: 7 } });
  await pollUntil(alice, blocker.id, (p) => p.status === "processing");
  const created = await late.predictions.create({ version: versions.echo, input: { text: "too late" } });
  const [blocked, polled, waited] = await within(
    30_000,
    Promise.all([
      late.run("alice/echo", { input: { text: "blocked, too late" } }), // Prefer: wait
      late.run("alice/echo", { input: { text: "polled, too late" }, wait: { mode: "poll", interval: 200 } }),
      alice.wait(created, { interval: 200 }),
    ]),
  );
  const plain = await fetch(created.urls.get, { headers: { Authorization: `Bearer ${config.alice}` } });
  const other = new Replicate({ auth: config.alice, baseUrl, userAgent: "my-app/2.0" });
  let polls = 0;
  const otherWait = await within(
    10_000,
    other.wait({ ...created, status: "starting" }, { interval: 50 }, async () => ++polls >= 3),
  );
  return {
    created: summary(created),
    blocked_output: blocked,
    polled_output: polled,
    waited: summary(waited),
    got: summary(await alice.predictions.get(created.id)),
    plain: await plain.json(),
    other: { status: (await other.predictions.get(created.id)).status, wait_status: otherWait.status, polls },
  };
}

const deadlineCheck = check("deadline_passed_before_start", deadlinePassedBeforeStart);

await check("models_get", () => alice.models.get("alice", "echo"));

await check("models_list", async () => {
  const view = async (client) => {
    const models = [];
    let pages = 0;
    for await (const page of client.paginate(client.models.list)) {
      pages++;
      models.push(...page.map((m) => ({ name: `${m.owner}/${m.name}`, visibility: m.visibility })));
    }
    return { pages, models };
  };
  return { alice: await view(alice), bob: await view(bob) };
});

await check("models_search", async () => {
  const page = await bob.models.search("echo");
  return page.results.map((m) => `${m.owner}/${m.name}`);
});

await check("versions_list_and_get", async () => {
  const list = await alice.models.versions.list("alice", "echo");
  const got = await alice.models.versions.get("alice", "echo", versions.echo);
  return { list, got };
});

await check("files", async () => {
  const bytes = Buffer.from(Array.from({ length: 300 }, (_, index) => index % 256));
  const blob = new File([bytes], "notes.bin", { type: "application/octet-stream" });
  const created = await alice.files.create(blob, { album: "holidays" });
  const fromBuffer = await alice.files.create(Buffer.from("plain buffer"));
  const listed = await alice.files.list();
  const got = await alice.files.get(created.id);
  const bobGet = await thrown(() => bob.files.get(created.id));
  const deleted = await alice.files.delete(created.id);
  const deletedBuffer = await alice.files.delete(fromBuffer.id);
  const afterDelete = await thrown(() => alice.files.get(created.id));
  return {
    created,
    from_buffer: fromBuffer,
    listed_ids: listed.results.map((file) => file.id),
    got,
    bob_get: bobGet,
    deleted,
    deleted_buffer: deletedBuffer,
    after_delete: afterDelete,
  };
});

await check("hardware_list", () => alice.hardware.list());

await check("accounts_current", () => alice.accounts.current());

await check("webhook_secret", () => alice.webhooks.default.secret.get());

await deadlineCheck; // the worker is free again from here on

// File inputs with the default strategy: each Blob or Buffer is uploaded with files.create and
// replaced by its urls.get. (The "data-uri" strategy cannot be tested: 1.4.0 passes the client
// object where the inputs belong, lib/util.js transformFileInputs, so it sends no inputs at all.)
await check("file_input_and_output", async () => {
  const first = Buffer.from("hearth javascript file input");
  const second = Buffer.from("a second file, as a Buffer");
  const output = await alice.run("alice/files", {
    input: { file: new Blob([first], { type: "text/plain" }), more: [second] },
  });
  const reversed = await fetch(String(output.reversed)); // an output URL needs no token
  return {
    output: { ...output, reversed: String(output.reversed) },
    expected_sha256: [first, second].map((bytes) => createHash("sha256").update(bytes).digest("hex")),
    reversed_status: reversed.status,
    reversed_equal: Buffer.from(await reversed.arrayBuffer()).equals(Buffer.from([...first].reverse())),
  };
});

await check("failing_run", () => thrown(() => alice.run("alice/fails", { input: { reason: "out of cheese" } })));

await check("failing_wait", async () => {
  const created = await alice.predictions.create({ version: versions.fails, input: { reason: "no more cheese" } });
  const waited = await thrown(() => alice.wait(created, { interval: 100 }));
  return { waited, got: summary(await alice.predictions.get(created.id)) };
});

await check("invalid_token", async () => {
  const stranger = new Replicate({ auth: `r8_${"x".repeat(37)}`, baseUrl });
  return {
    run: await thrown(() => stranger.run("alice/echo", { input: { text: "hi" } })),
    account: await thrown(() => stranger.accounts.current()),
  };
});

await check("ownership", async () => {
  const mine = await alice.predictions.create({ version: versions.echo, input: { text: "mine" }, wait: true });
  return {
    alice_status: (await alice.predictions.get(mine.id)).status,
    bob_get: await thrown(() => bob.predictions.get(mine.id)),
    bob_cancel: await thrown(() => bob.predictions.cancel(mine.id)),
    bob_model: await thrown(() => bob.models.get("alice", "echo")),
    bob_run: await thrown(() => bob.run("alice/echo", { input: {} })),
  };
});

await check("deployments", async () => {
  const created = await alice.deployments.create({
    name: "js-echo",
    model: "alice/echo",
    version: versions.echo,
    hardware: "cpu",
    min_instances: 0,
    max_instances: 2,
  });
  try {
    const got = await alice.deployments.get("alice", "js-echo");
    const listed = await alice.deployments.list();
    const updated = await alice.deployments.update("alice", "js-echo", { max_instances: 3 });
    const waited = await alice.deployments.predictions.create("alice", "js-echo", {
      input: { text: "through a deployment" },
      wait: true,
    });
    const polled = await alice.wait(
      await alice.deployments.predictions.create("alice", "js-echo", { input: { text: "polled" } }),
      { interval: 100 },
    );
    return {
      created,
      got,
      listed_names: listed.results.map((deployment) => `${deployment.owner}/${deployment.name}`),
      updated,
      waited: { ...summary(waited), deployment: waited.deployment },
      polled: summary(polled),
      bob_get: await thrown(() => bob.deployments.get("alice", "js-echo")),
      bob_run: await thrown(() => bob.deployments.predictions.create("alice", "js-echo", { input: {} })),
      bob_delete: await thrown(() => bob.deployments.delete("alice", "js-echo")),
    };
  } finally {
    await alice.deployments.delete("alice", "js-echo");
  }
});

process.stdout.write(`${JSON.stringify(results)}\n`);
