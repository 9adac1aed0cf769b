"""schemathesis hooks for tests/fuzz_api.sh: the turn stream's server-sent
events, read as the list of `{event, data}` objects the OpenAPI document
describes, so every event of every stream is checked against its schema."""

import json

import schemathesis


@schemathesis.deserializer("text/event-stream")
def server_sent_events(ctx, response):
    events = []
    for block in response.content.decode("utf-8").split("\n\n"):
        name, data = "message", []
        for line in block.splitlines():
            if line.startswith("event:"):
                name = line[len("event:"):].strip()
            elif line.startswith("data:"):
                data.append(line[len("data:"):].removeprefix(" "))
        if data:
            events.append({"event": name, "data": json.loads("\n".join(data))})
    return events
