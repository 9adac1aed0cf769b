"""Drives /v1/chat/completions and /v1/models with the official `openai`
Python package, as chat front ends and SDK users do. Run by
tests/openai_client.sh against a service on 127.0.0.1.

Usage: openai_client.py BASE_URL API_KEY CHARACTER_ID RECALL(yes|no)
"""
import sys

import openai
from openai import OpenAI

base, key, character, recall = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "yes"
client = OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0, timeout=30)

# The tenant's characters are its models.
models = [m.id for m in client.models.list()]
assert character in models, models

# Plain, by name, with a system message the service leaves to the persona.
first = client.chat.completions.create(
    model="Ada",
    user="sam",
    messages=[
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "My boat is called the Petrel."},
    ],
)
reply = first.choices[0].message.content
assert first.object == "chat.completion", first
assert first.model == character, first.model
assert reply and first.choices[0].finish_reason == "stop", first
assert first.usage.total_tokens == first.usage.prompt_tokens + first.usage.completion_tokens > 0
session = first.model_extra["session_id"]

# Streamed, by id, with the client's view of the history: the last user
# message is the turn, the rest is not stored again.
chunks = list(
    client.chat.completions.create(
        model=character,
        user="sam",
        stream=True,
        messages=[
            {"role": "user", "content": "My boat is called the Petrel."},
            {"role": "assistant", "content": reply},
            {"role": "user", "content": [{"type": "text", "text": "What is my boat called?"}]},
        ],
    )
)
assert chunks and all(c.object == "chat.completion.chunk" for c in chunks)
assert chunks[0].choices[0].delta.role == "assistant"
assert chunks[-1].choices[0].finish_reason == "stop"
text = "".join(c.choices[0].delta.content or "" for c in chunks)
assert text, chunks
if recall:
    assert "Petrel" in text, text

# Two turns stored in the session, four messages: nothing duplicated.
stored = client.get(f"/sessions/{session}/messages", cast_to=object)
assert [m["role"] for m in stored["items"]] == ["user", "character"] * 2, stored

# Another person asks the same: Sam's boat is Sam's.
other = client.chat.completions.create(
    model="Ada", user="alex", messages=[{"role": "user", "content": "What is my boat called?"}]
)
assert other.model_extra["session_id"] != session
if recall:
    assert "Petrel" not in other.choices[0].message.content, other

# A character that does not exist, and a request with no user message.
for bad, error in (
    (dict(model="Nobody", messages=[{"role": "user", "content": "hi"}]), openai.NotFoundError),
    (dict(model="Ada", messages=[{"role": "system", "content": "hi"}]), openai.BadRequestError),
):
    try:
        client.chat.completions.create(**bad)
    except error as e:
        assert e.body and "status" in str(e.body), e.body
    else:
        raise AssertionError(f"{bad} was accepted")

print(f"openai {openai.__version__}: models, plain and streamed completions, per-person recall, errors: ok ({session})")
