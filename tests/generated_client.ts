// The README walk-through's calls, typed by openapi-typescript from the
// committed OpenAPI document; `tests/generated_clients.sh` type-checks it
// with tsc --strict (and checks that a wrong field is refused).
import type { components, paths } from "../target/generated/ts/api";

type Character = components["schemas"]["Character"];
type Turn = components["schemas"]["TurnDto"];
type Problem = components["schemas"]["Problem"];
type NewCharacter =
  paths["/v1/characters"]["post"]["requestBody"]["content"]["application/json; charset=utf-8"];
type Say =
  paths["/v1/sessions/{id}/messages"]["post"]["requestBody"]["content"]["application/json; charset=utf-8"];
type Search =
  paths["/v1/characters/{id}/memories/search"]["post"]["requestBody"]["content"]["application/json; charset=utf-8"];
type SearchAnswer =
  paths["/v1/characters/{id}/memories/search"]["post"]["responses"][200]["content"]["application/json; charset=utf-8"];

async function call<T>(base: string, key: string, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(base + path, {
    method,
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    const problem = (await response.json()) as Problem;
    throw new Error(`${problem.status}: ${problem.detail}`);
  }
  return (await response.json()) as T;
}

export async function walkThrough(base: string, key: string): Promise<string> {
  const ada: NewCharacter = { name: "Ada", persona: "A retired sea captain." };
  const character = await call<Character>(base, key, "POST", "/v1/characters", ada);
  const session = await call<components["schemas"]["Session"]>(
    base, key, "POST", `/v1/characters/${character.id}/sessions`, { user_id: "sam-42" });
  const say: Say = { content: "My boat is called the Petrel." };
  const turn = await call<Turn>(base, key, "POST", `/v1/sessions/${session.id}/messages`, say);
  const search: Search = { query: "boat", k: 3, user_id: "sam-42", mode: "hybrid" };
  const found = await call<SearchAnswer>(base, key, "POST", `/v1/characters/${character.id}/memories/search`, search);
  const used: number = turn.memories_used.length;
  return `${turn.reply.content} (${used} memories; ${found.results.length} found by ${found.mode})`;
}
