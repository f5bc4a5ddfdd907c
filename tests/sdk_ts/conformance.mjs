// The official TypeScript SDK (@vapi-ai/server-sdk) against an OpenCall server: assistant CRUD, call
// create/list/get/delete, and the error shapes. Run by tests/api/test_sdk_typescript.py with
// OPENCALL_BASE_URL and OPENCALL_KEY; any failed assertion exits non-zero with its message.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { VapiClient, VapiError } from "@vapi-ai/server-sdk";

const baseUrl = process.env.OPENCALL_BASE_URL;
const token = process.env.OPENCALL_KEY;
assert.ok(baseUrl && token, "OPENCALL_BASE_URL and OPENCALL_KEY must be set");

const client = new VapiClient({ token, baseUrl });
const websocketTransport = {
  provider: "vapi.websocket",
  audioFormat: { format: "pcm_s16le", container: "raw", sampleRate: 16000 },
};

async function rejection(promise) {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof VapiError, `expected a VapiError, got ${err}`);
    return err;
  }
  assert.fail("expected the request to fail");
}

async function step(name, body) {
  await body();
  console.log(`ok - ${name}`);
}

let assistant;
await step("assistants.create answers the full Vapi assistant", async () => {
  assistant = await client.assistants.create({
    name: "TS Support",
    firstMessage: "Hello from TypeScript",
    model: {
      provider: "openai",
      model: "gpt-4o",
      messages: [{ role: "system", content: "You are terse." }],
    },
    voice: { provider: "11labs", voiceId: "burt" },
    transcriber: { provider: "deepgram", model: "nova-2", language: "en" },
  });
  assert.match(assistant.id, /^[0-9a-f-]{36}$/);
  assert.equal(typeof assistant.orgId, "string");
  assert.equal(assistant.name, "TS Support");
  assert.equal(assistant.firstMessage, "Hello from TypeScript");
  assert.deepEqual(assistant.model.messages, [{ role: "system", content: "You are terse." }]);
  assert.equal(assistant.model.provider, "openai");
  assert.equal(assistant.voice.voiceId, "burt");
  assert.equal(assistant.transcriber.provider, "deepgram");
  assert.ok(!Number.isNaN(Date.parse(assistant.createdAt)));
  assert.equal(assistant.createdAt, assistant.updatedAt);
});

await step("assistants.get and assistants.list find it", async () => {
  const fetched = await client.assistants.get({ id: assistant.id });
  assert.equal(fetched.id, assistant.id);
  assert.equal(fetched.model.model, "gpt-4o");
  const listed = await client.assistants.list({ limit: 1000 });
  assert.ok(Array.isArray(listed), "legacy list is a bare array");
  assert.ok(listed.some((a) => a.id === assistant.id));
  const newer = await client.assistants.list({ createdAtGt: assistant.createdAt });
  assert.ok(!newer.some((a) => a.id === assistant.id), "createdAtGt excludes the bound itself");
});

await step("assistants.update is shallow: a sent model replaces the stored one", async () => {
  const renamed = await client.assistants.update({ id: assistant.id, name: "TS Support v2" });
  assert.equal(renamed.name, "TS Support v2");
  assert.equal(renamed.model.messages[0].content, "You are terse.");
  const remodelled = await client.assistants.update({
    id: assistant.id,
    model: { provider: "openai", model: "gpt-4o-mini" },
  });
  assert.equal(remodelled.model.model, "gpt-4o-mini");
  assert.equal(remodelled.model.messages, undefined);
  assert.equal(remodelled.voice.voiceId, "burt");
});

let call;
await step("calls.create places a queued websocket call", async () => {
  call = await client.calls.create({ assistantId: assistant.id, transport: websocketTransport });
  assert.equal(call.type, "vapi.websocketCall");
  assert.equal(call.status, "queued");
  assert.equal(call.assistantId, assistant.id);
  assert.equal(call.transport.websocketCallUrl, `${baseUrl.replace(/^http/, "ws")}/${call.id}/transport`);
});

let phoneCall;
await step("calls.create places a queued outbound phone call", async () => {
  const digits = String(Date.now()).slice(-7);
  const number = await client.phoneNumbers.create({
    provider: "twilio",
    number: `+1415${digits}`,
    twilioAccountSid: "AC" + randomUUID().replaceAll("-", ""),
    twilioAuthToken: "ts-secret",
  });
  assert.equal(number.provider, "twilio");
  assert.equal(number.twilioAuthToken, undefined, "the auth token is never echoed");
  phoneCall = await client.calls.create({
    assistantId: assistant.id,
    phoneNumberId: number.id,
    customer: { number: "+14155550199" },
  });
  assert.equal(phoneCall.type, "outboundPhoneCall");
  assert.equal(phoneCall.status, "queued");
  assert.equal(phoneCall.phoneCallProvider, "twilio");
  assert.equal(phoneCall.phoneCallTransport, "pstn");
  assert.equal(phoneCall.customer.number, "+14155550199");
});

await step("calls.list filters by assistantId and id", async () => {
  const mine = await client.calls.list({ assistantId: assistant.id });
  assert.deepEqual(mine.map((c) => c.id), [phoneCall.id, call.id]);
  const one = await client.calls.list({ id: call.id });
  assert.deepEqual(one.map((c) => c.id), [call.id]);
  const limited = await client.calls.list({ assistantId: assistant.id, limit: 1 });
  assert.deepEqual(limited.map((c) => c.id), [phoneCall.id]);
});

await step("calls.get, calls.update and calls.delete", async () => {
  assert.equal((await client.calls.get({ id: call.id })).status, "queued");
  assert.equal((await client.calls.update({ id: call.id, name: "ts call" })).name, "ts call");
  const deleted = await client.calls.delete({ id: call.id });
  assert.equal(deleted.id, call.id);
  const gone = await rejection(client.calls.get({ id: call.id }));
  assert.equal(gone.statusCode, 404);
});

await step("assistants.delete answers the deleted assistant", async () => {
  const deleted = await client.assistants.delete({ id: assistant.id });
  assert.equal(deleted.id, assistant.id);
  assert.equal(deleted.name, "TS Support v2");
  const gone = await rejection(client.assistants.get({ id: assistant.id }));
  assert.equal(gone.statusCode, 404);
  assert.equal(gone.body.statusCode, 404);
});

await step("a bad body is a 400 naming the field", async () => {
  const err = await rejection(client.assistants.create({ name: "x".repeat(41) }));
  assert.equal(err.statusCode, 400);
  assert.deepEqual(err.body.message, ["name must be shorter than or equal to 40 characters"]);
  assert.equal(err.body.error, "Bad Request");
});

await step("a bad key is Vapi's 401", async () => {
  const stranger = new VapiClient({ token: "not-a-key", baseUrl });
  const err = await rejection(stranger.assistants.list());
  assert.equal(err.statusCode, 401);
  assert.match(err.body.message, /^Invalid Key\. Hot tip/);
});
