"""The MCP server at /mcp driven by the official `mcp` Python package's
client (pinned), over Streamable HTTP on 127.0.0.1: the tools, a person's
memories kept to that person, another tenant's key, a missing key and bad
input. Usage: mcp_client.py BASE_URL KEY OTHER_TENANT_KEY CHARACTER_ID"""

import asyncio
import json
import sys

import httpx
from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client

base, key, other_key, character = sys.argv[1:5]
url = f"{base}/mcp"


def payload(result):
    """A tool result's JSON (structured content, else its text)."""
    if result.structuredContent is not None:
        return result.structuredContent
    return json.loads(result.content[0].text)


async def session_for(api_key, body):
    async with streamablehttp_client(url, headers={"Authorization": f"Bearer {api_key}"}) as (read, write, _):
        async with ClientSession(read, write) as session:
            await session.initialize()
            return await body(session)


async def as_tenant(session):
    tools = sorted(t.name for t in (await session.list_tools()).tools)
    assert tools == ["add_memory", "get_character", "list_characters", "search_memories", "send_message"], tools
    schema = next(t for t in (await session.list_tools()).tools if t.name == "add_memory").inputSchema
    assert "character_id" in schema["required"] and "content" in schema["required"], schema

    listed = payload(await session.call_tool("list_characters", {}))
    assert character in [c["id"] for c in listed["items"]], listed
    ada = payload(await session.call_tool("get_character", {"character_id": character}))
    assert ada["name"] == "Ada", ada

    added = await session.call_tool("add_memory", {
        "character_id": character, "content": "Sam's boat is called the Kestrel.",
        "kind": "biographical", "importance": 0.9, "user_id": "sam"})
    assert not added.isError, added
    memory = payload(added)
    assert memory["user_id"] == "sam" and memory["kind"] == "biographical", memory

    found = payload(await session.call_tool("search_memories", {
        "character_id": character, "query": "Sam's boat Kestrel", "k": 3, "user_id": "sam"}))
    assert found["results"] and "Kestrel" in found["results"][0]["memory"]["content"], found
    for_maya = payload(await session.call_tool("search_memories", {
        "character_id": character, "query": "Sam's boat Kestrel", "k": 3, "user_id": "maya"}))
    assert all("Kestrel" not in r["memory"]["content"] for r in for_maya["results"]), for_maya

    turn = payload(await session.call_tool("send_message", {
        "character_id": character, "message": "What is my boat called, the Kestrel?", "user_id": "sam"}))
    assert turn["reply"]["content"], turn
    assert any("Kestrel" in m["memory"]["content"] for m in turn["memories_used"]), turn
    again = payload(await session.call_tool("send_message", {
        "character_id": character, "message": "And now?", "user_id": "sam"}))
    assert again["user_message"]["session_id"] == turn["user_message"]["session_id"], "the person's open session"

    bad = await session.call_tool("add_memory", {"character_id": character, "content": "x", "importance": 3})
    problem = payload(bad)
    assert bad.isError and problem["status"] == 400 and problem["field"] == "importance", problem
    missing = await session.call_tool("get_character", {"character_id": "00000000-0000-7000-8000-000000000000"})
    assert missing.isError and payload(missing)["status"] == 404, missing


async def as_another_tenant(session):
    listed = payload(await session.call_tool("list_characters", {}))
    assert character not in [c["id"] for c in listed["items"]], listed
    foreign = await session.call_tool("get_character", {"character_id": character})
    assert foreign.isError and payload(foreign)["status"] == 404, foreign
    searched = await session.call_tool("search_memories", {"character_id": character, "query": "boat"})
    assert searched.isError and payload(searched)["status"] == 404, searched


async def main():
    await session_for(key, as_tenant)
    await session_for(other_key, as_another_tenant)
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "probe", "version": "0"}}}
    headers = {"Accept": "application/json, text/event-stream"}
    async with httpx.AsyncClient() as http:
        keyless = await http.post(url, json=initialize, headers=headers)
        assert keyless.status_code == 401, keyless.text
        assert keyless.headers["content-type"].startswith("application/problem+json"), keyless.headers
        wrong = await http.post(url, json=initialize, headers={**headers, "Authorization": "Bearer vl_not-a-key-at-all-0000"})
        assert wrong.status_code == 401, wrong.text
    print("mcp: tools, per-person memories, tenant isolation, keys and bad input: ok")


asyncio.run(main())
