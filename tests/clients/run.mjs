// Drives one real Node client through keyroute for one feature and prints what it got, as JSON.
//
//   node run.mjs '{"client": "openai", "feature": "tools", "base": "http://127.0.0.1:PORT",
//                  "key": "kr-...", "model": "openai/gpt-4o-mini"}'
//
// Clients: openai (the SDK), anthropic (@anthropic-ai/sdk), ai-openai (ai + @ai-sdk/openai
// .chat()), ai-responses (ai + @ai-sdk/openai's default provider call, the Responses API),
// ai-anthropic (ai + @ai-sdk/anthropic). Features: chat, stream, tools (a parallel
// tool call round trip: the model calls get_weather and get_time, the client runs both and sends
// the results back), structured (a JSON object that must match SCHEMA). Only the base URL and the
// key point the client at keyroute; everything else is each library's default usage.
// A client error is printed as {"error": {"status", "body"}} and exits 0, so the test reads it.
import Anthropic from "@anthropic-ai/sdk";
import { createAnthropic } from "@ai-sdk/anthropic";
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, jsonSchema, Output, stepCountIs, streamText, tool } from "ai";
import OpenAI from "openai";

const job = JSON.parse(process.argv[2]);
const ASK = "Weather in Paris, and the time there?";
const SCHEMA = {
  type: "object",
  properties: { city: { type: "string" }, temperature: { type: "integer" } },
  required: ["city", "temperature"],
  additionalProperties: false,
};
const PARAMS = {
  get_weather: ["Current weather for a city", "city"],
  get_time: ["Local time in a time zone", "tz"],
};
const RESULTS = { get_weather: "21°C", get_time: "14:00" };
const schemaOf = (arg) => ({
  type: "object",
  properties: { [arg]: { type: "string" } },
  required: [arg],
});

async function openaiSdk() {
  const client = new OpenAI({ baseURL: `${job.base}/v1`, apiKey: job.key, maxRetries: 0 });
  const model = job.model;
  const hi = [{ role: "user", content: "Hi" }];
  if (job.feature === "chat") {
    const got = await client.chat.completions.create({ model, messages: hi });
    return { text: got.choices[0].message.content };
  }
  if (job.feature === "stream") {
    const stream = client.chat.completions.stream({ model, messages: hi });
    return { text: (await stream.finalChatCompletion()).choices[0].message.content };
  }
  if (job.feature === "structured") {
    const format = { type: "json_schema", json_schema: { name: "weather", schema: SCHEMA, strict: true } };
    const got = await client.chat.completions.parse({ model, messages: hi, response_format: format });
    return { object: got.choices[0].message.parsed };
  }
  const tools = Object.entries(PARAMS).map(([name, [description, arg]]) => ({
    type: "function",
    function: { name, description, parameters: schemaOf(arg) },
  }));
  const messages = [{ role: "user", content: ASK }];
  // The stream helper's final message, sent back as it is (the SDK's own examples do so).
  const stream = client.chat.completions.stream({ model, messages, tools });
  const said = (await stream.finalChatCompletion()).choices[0].message;
  messages.push(said);
  for (const call of said.tool_calls) {
    messages.push({ role: "tool", tool_call_id: call.id, content: RESULTS[call.function.name] });
  }
  const got = await client.chat.completions.create({ model, messages, tools });
  const calls = said.tool_calls.map((c) => [c.id, c.function.name, c.function.arguments]);
  return { text: got.choices[0].message.content, calls };
}

async function anthropicSdk() {
  const client = new Anthropic({ baseURL: job.base, apiKey: job.key, maxRetries: 0 });
  const base = { model: job.model, max_tokens: 1024 };
  const hi = [{ role: "user", content: "Hi" }];
  const text = (m) => m.content.filter((b) => b.type === "text").map((b) => b.text).join("");
  if (job.feature === "chat") {
    return { text: text(await client.messages.create({ ...base, messages: hi })) };
  }
  if (job.feature === "stream") {
    return { text: text(await client.messages.stream({ ...base, messages: hi }).finalMessage()) };
  }
  if (job.feature === "structured") {
    const output_config = { format: { type: "json_schema", schema: SCHEMA } };
    const got = await client.messages.create({ ...base, messages: hi, output_config });
    return { object: JSON.parse(text(got)) };
  }
  const tools = Object.entries(PARAMS).map(([name, [description, arg]]) => ({
    name,
    description,
    input_schema: schemaOf(arg),
  }));
  const messages = [{ role: "user", content: ASK }];
  const said = await client.messages.stream({ ...base, messages, tools }).finalMessage();
  messages.push({ role: "assistant", content: said.content });
  const uses = said.content.filter((b) => b.type === "tool_use");
  const results = uses.map((u) => ({ type: "tool_result", tool_use_id: u.id, content: RESULTS[u.name] }));
  messages.push({ role: "user", content: results });
  const got = await client.messages.create({ ...base, messages, tools });
  return { text: text(got), calls: uses.map((u) => [u.id, u.name, JSON.stringify(u.input)]) };
}

async function vercel(model) {
  if (job.feature === "chat") {
    return { text: (await generateText({ model, prompt: "Hi", maxRetries: 0 })).text };
  }
  if (job.feature === "stream") {
    const result = streamText({ model, prompt: "Hi", maxRetries: 0 });
    return { text: await result.text };
  }
  if (job.feature === "structured") {
    const output = Output.object({ schema: jsonSchema(SCHEMA) });
    const got = await generateText({ model, prompt: "Hi", output, maxRetries: 0 });
    return { object: got.output };
  }
  const tools = Object.fromEntries(
    Object.entries(PARAMS).map(([name, [description, arg]]) => [
      name,
      tool({ description, inputSchema: jsonSchema(schemaOf(arg)), execute: async () => RESULTS[name] }),
    ]),
  );
  const result = streamText({ model, prompt: ASK, tools, stopWhen: stepCountIs(3), maxRetries: 0 });
  const steps = await result.steps;
  const calls = steps[0].toolCalls.map((c) => [c.toolCallId, c.toolName, JSON.stringify(c.input)]);
  return { text: await result.text, calls };
}

const clients = {
  openai: openaiSdk,
  anthropic: anthropicSdk,
  "ai-openai": () => vercel(createOpenAI({ baseURL: `${job.base}/v1`, apiKey: job.key }).chat(job.model)),
  "ai-responses": () => vercel(createOpenAI({ baseURL: `${job.base}/v1`, apiKey: job.key })(job.model)),
  "ai-anthropic": () => vercel(createAnthropic({ baseURL: `${job.base}/v1`, apiKey: job.key })(job.model)),
};

try {
  console.log(JSON.stringify(await clients[job.client]()));
} catch (error) {
  const status = error.status ?? error.statusCode ?? null;
  const body = error.error ?? error.responseBody ?? String(error);
  console.log(JSON.stringify({ error: { status, body, message: String(error.message ?? error) } }));
}
