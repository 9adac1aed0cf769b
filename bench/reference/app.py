"""The chat-turn path of the Python stacks VirLife replaces (FastAPI +
uvicorn + asyncpg + redis-py), for benchmarks only. Same schema (the
database VirLife migrated), same mock LLM, same steps as VirLife's turn:
authenticate the key, store the user message, load the renderer context
(Redis, else PostgreSQL), embed the message, search the character's
memories, call the renderer, store the reply, embed and store the turn as
an episodic memory. Run: uvicorn app:app --workers 4 (as the guides do).
"""
import hashlib, json, os, uuid
from datetime import datetime, timezone

import asyncpg, httpx, numpy as np, redis.asyncio as aioredis
from fastapi import FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse

DATABASE_URL = os.environ["DATABASE_URL"]
REDIS_URL = os.environ["REDIS_URL"]
LLM_URL = os.environ["LLM_URL"]
app = FastAPI()
state = {}


@app.on_event("startup")
async def startup():
    state["pool"] = await asyncpg.create_pool(DATABASE_URL, min_size=2, max_size=10)
    state["redis"] = aioredis.from_url(REDIS_URL)
    state["http"] = httpx.AsyncClient(base_url=LLM_URL, timeout=60)


async def embed(text):
    response = await state["http"].post("/embeddings", json={"model": "mock", "input": [text]})
    return np.array(response.json()["data"][0]["embedding"], dtype=np.float32)


async def tenant_of(authorization):
    key = (authorization or "").removeprefix("Bearer ").strip()
    digest = hashlib.sha256(key.encode()).hexdigest()
    cached = await state["redis"].get(f"ref:apikey:{digest}")
    if cached:
        return cached.decode()
    tenant = await state["pool"].fetchval("SELECT tenant FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL", digest)
    if tenant is None:
        raise HTTPException(401, "invalid key")
    await state["redis"].set(f"ref:apikey:{digest}", tenant, ex=60)
    return tenant


@app.post("/v1/sessions/{session_id}/messages", status_code=201)
async def turn(session_id: uuid.UUID, request: Request, authorization: str = Header(None)):
    body = await request.json()
    content = body["content"]
    tenant = await tenant_of(authorization)
    pool, redis = state["pool"], state["redis"]
    session = await pool.fetchrow("SELECT * FROM sessions WHERE id = $1 AND tenant = $2", session_id, tenant)
    if session is None:
        raise HTTPException(404, "no such session")
    now = datetime.now(timezone.utc)
    user_id = uuid.uuid4()
    await pool.execute(
        "WITH s AS (UPDATE sessions SET last_active_at = $5 WHERE id = $3 RETURNING id) "
        "INSERT INTO messages (id, tenant, session_id, role, content, incomplete, created_at) SELECT $1, $2, s.id, 'user', $4, false, $5 FROM s",
        user_id, tenant, session_id, content, now)
    character_id = session["character_id"]
    cached = await redis.get(f"ref:character:{character_id}")
    if cached:
        character = json.loads(cached)
    else:
        row = await pool.fetchrow("SELECT name, persona FROM characters WHERE id = $1", character_id)
        character = {"name": row["name"], "persona": row["persona"]}
        await redis.set(f"ref:character:{character_id}", json.dumps(character), ex=3600)
    cached = await redis.get(f"ref:history:{session_id}")
    if cached:
        history = json.loads(cached)
    else:
        rows = await pool.fetch("SELECT role, content FROM messages WHERE session_id = $1 ORDER BY id DESC LIMIT 20", session_id)
        history = [{"role": r["role"], "content": r["content"]} for r in reversed(rows)]
    query = await embed(content)
    rows = await pool.fetch("SELECT id, content, embedding FROM memories WHERE tenant = $1 AND character_id = $2", tenant, character_id)
    memories = []
    if rows:
        matrix = np.array([r["embedding"] for r in rows], dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1) * (np.linalg.norm(query) or 1.0)
        scores = matrix @ query / np.where(norms == 0, 1.0, norms)
        best = np.argsort(-scores)[:5]
        memories = [{"content": rows[i]["content"], "score": float(scores[i])} for i in best if scores[i] > 0]
    system = f"You are {character['name']}. {character['persona']}\n" + "\n".join(m["content"] for m in memories)
    messages = [{"role": "system", "content": system}] + [
        {"role": "assistant" if h["role"] == "character" else "user", "content": h["content"]} for h in history
    ] + [{"role": "user", "content": content}]
    completion = (await state["http"].post("/chat/completions", json={"model": "mock", "messages": messages})).json()
    reply = completion["choices"][0]["message"]["content"]
    reply_id = uuid.uuid4()
    await pool.execute(
        "INSERT INTO messages (id, tenant, session_id, role, content, incomplete, created_at) VALUES ($1, $2, $3, 'character', $4, false, $5)",
        reply_id, tenant, session_id, reply, datetime.now(timezone.utc))
    history = (history + [{"role": "user", "content": content}, {"role": "character", "content": reply}])[-20:]
    await redis.set(f"ref:history:{session_id}", json.dumps(history), ex=3600)
    turn_text = f"User: {content}\n{character['name']}: {reply}"
    vector = await embed(turn_text)
    await pool.execute(
        "INSERT INTO memories (id, tenant, character_id, session_id, kind, source, content, importance, embedding, embedding_model, embedding_dimensions, created_at) "
        "VALUES ($1, $2, $3, $4, 'episodic', 'chat', $5, 0.3, $6, 'mock', $7, $8)",
        uuid.uuid4(), tenant, character_id, session_id, turn_text, vector.tolist(), len(vector), datetime.now(timezone.utc))
    return JSONResponse({"user_message": {"id": str(user_id), "content": content}, "reply": {"id": str(reply_id), "content": reply},
                         "memories_used": memories}, status_code=201)
