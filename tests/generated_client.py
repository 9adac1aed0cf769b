"""The README walk-through through a client generated from the committed
OpenAPI document with openapi-python-client: typed functions named after
the operationIds, typed models, problems as a model of their own.
Usage: generated_client.py BASE_URL MASTER_KEY"""

import sys

from vir_life_api_client import AuthenticatedClient
from vir_life_api_client.api.admin import create_api_key
from vir_life_api_client.api.characters import create_character, get_character, list_characters
from vir_life_api_client.api.memories import add_memory, search_memories
from vir_life_api_client.api.sessions import create_session, list_messages, send_message
from vir_life_api_client.api.world import (
    create_place,
    get_inner_state,
    get_world_event,
    move_character,
    record_world_event,
    update_relationship,
)
from vir_life_api_client.models import (
    CreateApiKeyRequest,
    CreateCharacterRequest,
    CreateMemoryRequest,
    CreatePlaceRequest,
    CreateSessionRequest,
    CreateWorldEventRequest,
    MoveCharacterRequest,
    MemoryKind,
    Problem,
    SearchMemoriesRequest,
    SearchMode,
    SendMessageRequest,
    UpdateRelationshipRequest,
)

base, master = sys.argv[1:3]

admin = AuthenticatedClient(base_url=base, token=master)
created = create_api_key.sync(client=admin, body=CreateApiKeyRequest(tenant="generated", name="python"))
assert not isinstance(created, Problem) and created.key.startswith("vl_"), created
client = AuthenticatedClient(base_url=base, token=created.key)

ada = create_character.sync(client=client, body=CreateCharacterRequest(
    name="Ada", persona="A retired sea captain who speaks in short, salty sentences."))
assert ada.name == "Ada", ada
assert get_character.sync(ada.id, client=client).persona.startswith("A retired sea captain")
assert ada.id in [c.id for c in list_characters.sync(client=client).items]

session = create_session.sync(ada.id, client=client, body=CreateSessionRequest(user_id="sam-42", user_name="Sam"))
first = send_message.sync(session.id, client=client, body=SendMessageRequest(content="My boat is called the Petrel."))
second = send_message.sync(session.id, client=client, body=SendMessageRequest(content="What is my boat called?"))
assert first.reply.content and second.reply.content, (first, second)
assert any("Petrel" in used.memory.content for used in second.memories_used), second
messages = list_messages.sync(session.id, client=client)
assert [m.content for m in messages.items][0] == "My boat is called the Petrel.", messages

memory = add_memory.sync(ada.id, client=client, body=CreateMemoryRequest(
    kind=MemoryKind.BIOGRAPHICAL, content="Sam sails every Sunday.", user_id="sam-42", importance=0.7))
assert memory.kind == MemoryKind.BIOGRAPHICAL, memory
found = search_memories.sync(ada.id, client=client, body=SearchMemoriesRequest(
    query="Sunday sailing", k=3, user_id="sam-42"))
assert found.mode in (SearchMode.HYBRID, SearchMode.LEXICAL), found
assert "Sunday" in found.results[0].memory.content, found

# The world: a place, a second character, a move, an event only those
# there perceive, a relationship set by game logic, the inner state.
tavern = create_place.sync(client=client, body=CreatePlaceRequest(name="The Salty Dog"))
bram = create_character.sync(client=client, body=CreateCharacterRequest(name="Bram", persona="A young sailor."))
moved = move_character.sync(ada.id, client=client, body=MoveCharacterRequest(place_id=tavern.id))
assert moved.memory.content == "I went to The Salty Dog." and moved.character.place_id == tavern.id, moved
event = record_world_event.sync(client=client, body=CreateWorldEventRequest(
    description="A brawl broke out over a card game.", place_id=tavern.id))
assert [w.character_id for w in event.witnesses] == [ada.id], event
assert get_world_event.sync(event.id, client=client).description.startswith("A brawl")
feeling = update_relationship.sync(ada.id, client=client, body=UpdateRelationshipRequest(
    character_id=bram.id, trust=0.8, note="an old shipmate"))
assert feeling.trust == 0.8 and feeling.character_id == bram.id, feeling
assert get_inner_state.sync(ada.id, client=client).mood == ""

missing = get_character.sync("00000000-0000-7000-8000-000000000000", client=client)
assert isinstance(missing, Problem) and missing.status == 404, missing
print("generated Python client: key, character, session, two turns, messages, memory, search, "
      "a place, a move, an event, a relationship, a 404: ok")
