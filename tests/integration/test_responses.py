"""The Responses API through keyroute with the official ``openai`` SDK, on every provider.

``client.responses.create`` (whole and streamed), ``client.responses.stream`` (whose helpers
reassemble text and function calls) and ``client.responses.parse`` with a pydantic model, against
the OpenAI, Anthropic and Gemini fakes; refused features answer a 400 in the Responses error
format naming them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pydantic
import pytest
from openai.types.responses import Response, ResponseStreamEvent

from tests.fakes import fake_openai, fake_openai_responses
from tests.fakes.fake_openai import UPSTREAM_KEY, FakeOpenAI
from tests.integration.conftest import Gateway
from tests.integration.matrix_cases import MODEL, WEATHER_CALL, World, open_world

pytestmark = pytest.mark.integration
UPSTREAMS = ("openai", "anthropic", "gemini")
EVENT: pydantic.TypeAdapter[ResponseStreamEvent] = pydantic.TypeAdapter(ResponseStreamEvent)
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with open_world(tmp_path_factory.mktemp("responses") / "data") as world:
        yield world


@pytest.fixture
def w(world: World) -> World:
    world.reset()
    return world


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_create_text(w: World, upstream: str) -> None:
    w.script(upstream, text="Hello there.")
    raw = w.oa.responses.with_raw_response.create(
        model=MODEL[upstream], input="Hi", instructions="Be brief.", max_output_tokens=300
    )
    got = Response.model_validate_json(raw.http_response.text)
    assert got.output_text == "Hello there."
    assert got.status == "completed" and got.model == MODEL[upstream]
    assert got.instructions == "Be brief." and got.max_output_tokens == 300
    assert got.usage is not None
    assert (got.usage.input_tokens, got.usage.input_tokens_details.cached_tokens) == (12, 4)
    assert got.usage.output_tokens == 7 and got.usage.total_tokens == 19


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_create_function_call_and_result(w: World, upstream: str) -> None:
    w.script(upstream, text=None, calls=[WEATHER_CALL])
    got = w.oa.responses.create(model=MODEL[upstream], input="Weather in Paris?", tools=[WEATHER])
    calls = [item for item in got.output if item.type == "function_call"]
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [
        ("get_weather", {"city": "Paris"})
    ]
    call_id = calls[0].call_id
    w.script(upstream, text="Sunny, 21C.")
    follow = w.oa.responses.create(
        model=MODEL[upstream],
        tools=[WEATHER],
        input=[
            {"role": "user", "content": "Weather in Paris?"},
            *[c.model_dump(exclude_none=True) for c in calls],
            {"type": "function_call_output", "call_id": call_id, "output": '{"temp": 21}'},
        ],
    )
    assert follow.output_text == "Sunny, 21C."
    assert "temp" in json.dumps(w.received(upstream)[-1][1])  # the tool's result went up


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_stream_helper(w: World, upstream: str) -> None:
    w.script_stream(upstream, ["Hel", "lo."], [WEATHER_CALL])
    kinds, sequence = [], []
    with w.oa.responses.stream(model=MODEL[upstream], input="Hi", tools=[WEATHER]) as stream:
        for event in stream:
            kinds.append(event.type)
            sequence.append(event.sequence_number)
        final = stream.get_final_response()
    assert sequence == list(range(len(sequence)))
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert "response.output_text.delta" in kinds
    assert "response.function_call_arguments.delta" in kinds
    assert final.output_text == "Hello."
    calls = [i for i in final.output if i.type == "function_call"]
    assert [(c.name, c.arguments) for c in calls] == [("get_weather", WEATHER_CALL.arguments)]
    assert final.usage is not None and final.usage.input_tokens == 100


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_create_stream_events_validate(w: World, upstream: str) -> None:
    w.script_stream(upstream, ["Hel", "lo."], [WEATHER_CALL])
    events = list(w.oa.responses.create(model=MODEL[upstream], input="Hi", stream=True))
    for event in events:  # every event is valid against the SDK's own types
        EVENT.validate_python(event.to_dict())
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "Hello."
    done = events[-1]
    assert done.type == "response.completed" and done.response.output_text == "Hello."


class City(pydantic.BaseModel):
    name: str
    country: str


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_parse_pydantic(w: World, upstream: str) -> None:
    w.script(upstream, text='{"name": "Paris", "country": "France"}')
    got = w.oa.responses.parse(model=MODEL[upstream], input="A city?", text_format=City)
    assert got.output_parsed == City(name="Paris", country="France")


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"tools": [{"type": "web_search"}]}, "tools[0].type"),
        ({"tools": [{"type": "file_search", "vector_store_ids": ["vs_1"]}]}, "tools[0].type"),
        ({"tools": [{"type": "code_interpreter", "container": {"type": "auto"}}]}, "tools[0].type"),
        ({"conversation": "conv_1"}, "conversation"),
        ({"background": True}, "background"),
    ],
)
def test_refused_by_name(w: World, params: dict[str, object], param: str) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        w.oa.responses.create(model=MODEL["openai"], input="Hi", **params)  # type: ignore[call-overload]
    error = info.value.response.json()["error"]
    assert error["param"] == param and error["type"] == "invalid_request_error"
    assert w.received("openai") == []


def test_unknown_path_names_the_endpoints(w: World) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        w.oa.get("/nowhere", cast_to=object)
    message = info.value.response.json()["error"]["message"]
    assert "/v1/responses" in message and "/v1/chat/completions" in message


# -- state: store, previous_response_id, GET / DELETE / input_items ----------------------------


@pytest.mark.parametrize(
    ("first", "second"), [("anthropic", "gemini"), ("gemini", "openai"), ("openai", "anthropic")]
)
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_two_turns_on_two_providers(w: World, first: str, second: str, stream: bool) -> None:
    turn1: Response
    if stream:
        w.script_stream(first, ["My name ", "is Ada."], [])
        with w.oa.responses.stream(
            model=MODEL[first], input="Who are you?", instructions="Be Ada."
        ) as s:
            turn1 = s.get_final_response()
    else:
        w.script(first, text="My name is Ada.")
        turn1 = w.oa.responses.create(
            model=MODEL[first], input="Who are you?", instructions="Be Ada."
        )
    assert turn1.output_text == "My name is Ada."
    w.script(second, text="You asked who I am.")
    turn2 = w.oa.responses.create(
        model=MODEL[second], input="What did I ask?", previous_response_id=turn1.id
    )
    assert turn2.output_text == "You asked who I am."
    assert turn2.previous_response_id == turn1.id
    sent = json.dumps(w.received(second)[-1][1])
    for said in ("Who are you?", "My name is Ada.", "What did I ask?"):
        assert said in sent
    assert "Be Ada." not in sent  # instructions do not carry over, as on OpenAI

    fetched = w.oa.responses.retrieve(turn2.id)
    assert fetched.output_text == turn2.output_text and fetched.id == turn2.id
    items = w.oa.responses.input_items.list(turn2.id)
    assert [i.type for i in items.data] == ["message"]
    assert items.data[0].content[0].text == "What did I ask?"  # type: ignore[union-attr]


def test_store_false_and_delete(w: World) -> None:
    w.script("openai", text="Not kept.")
    got = w.oa.responses.create(model=MODEL["openai"], input="Hi", store=False)
    with pytest.raises(openai.NotFoundError):
        w.oa.responses.retrieve(got.id)
    with pytest.raises(openai.BadRequestError) as info:
        w.oa.responses.create(model=MODEL["openai"], input="Again", previous_response_id=got.id)
    assert info.value.response.json()["error"]["param"] == "previous_response_id"

    w.script("openai", text="Kept.")
    kept = w.oa.responses.create(model=MODEL["openai"], input="Hi")
    assert w.oa.responses.retrieve(kept.id).output_text == "Kept."
    w.oa.responses.delete(kept.id)
    with pytest.raises(openai.NotFoundError):
        w.oa.responses.retrieve(kept.id)
    with pytest.raises(openai.NotFoundError):
        w.oa.responses.delete(kept.id)


def test_unknown_previous_response_is_refused(w: World) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        w.oa.responses.create(model=MODEL["openai"], input="Hi", previous_response_id="resp_nope")
    assert info.value.response.json()["error"]["param"] == "previous_response_id"
    assert w.received("openai") == []


def test_a_stream_cut_upstream_fails_in_band(w: World) -> None:
    events = [fake_openai.chunk({"role": "assistant", "content": "Hel"}, model="gpt-4o-mini")]
    w.openai_fake.push(fake_openai.Reply.stream(events, cut=True))
    got = list(w.oa.responses.create(model=MODEL["openai"], input="Hi", stream=True))
    for event in got:
        EVENT.validate_python(event.to_dict())
    assert [e.type for e in got[-2:]] == ["error", "response.failed"]
    assert [e.sequence_number for e in got] == list(range(len(got)))
    failed = got[-1]
    assert failed.type == "response.failed" and failed.response.error is not None
    with pytest.raises(openai.NotFoundError):  # a failed turn is not stored
        w.oa.responses.retrieve(failed.response.id)


def test_a_workspace_that_does_not_store(
    gateway: Gateway, fake_openai: tuple[FakeOpenAI, str]
) -> None:
    _, url = fake_openai
    gateway.control(lambda c: c.add_provider_key("default", "openai", UPSTREAM_KEY, base_url=url))
    shown = gateway.cli_json("workspace", "responses", "default", "--no-store")
    assert shown == {"workspace": "default", "store": False, "retention_days": None}
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=gateway.api_key, max_retries=0)
    with client:
        got = client.responses.create(model=MODEL["openai"], input="Hi")
        assert got.output_text
        with pytest.raises(openai.NotFoundError):
            client.responses.retrieve(got.id)
        with pytest.raises(openai.BadRequestError) as info:
            client.responses.create(model=MODEL["openai"], input="Hi", previous_response_id=got.id)
        error = info.value.response.json()["error"]
        assert error["param"] == "previous_response_id" and "does not store" in error["message"]
        gateway.cli_json("workspace", "responses", "default", "--store", "--retention-days", "1")
        kept = client.responses.create(model=MODEL["openai"], input="Hi")
        assert client.responses.retrieve(kept.id).id == kept.id


def _reasoning_answer(text: str) -> dict[str, Any]:
    """A native OpenAI ``Response`` with a reasoning item (summary and sealed content)."""
    reasoning = {
        "type": "reasoning",
        "id": "rs_upstream1",
        "summary": [{"type": "summary_text", "text": "Thinking it over."}],
        "encrypted_content": "gAAAA-openai-sealed-reasoning",
    }
    answer = fake_openai_responses.response(
        "gpt-4o-mini",
        [reasoning, fake_openai_responses.message(text)],
        fake_openai_responses.usage_of(None),
    )
    return answer


def test_openai_keys_use_openais_own_responses_api(w: World) -> None:
    w.script("openai", text="Brief.")
    got = w.oa.responses.create(
        model=MODEL["openai"],
        input="Hi",
        instructions="Be brief.",
        text={"verbosity": "low"},
        service_tier="flex",
        max_output_tokens=50,
    )
    assert got.output_text == "Brief."
    [(path, body)] = w.received("openai")
    assert path == "/v1/responses"
    assert body["store"] is False  # keyroute keeps the conversation
    assert body["model"] == "gpt-4o-mini" and body["max_output_tokens"] == 50
    assert body["text"] == {"verbosity": "low"} and body["service_tier"] == "flex"
    assert body["input"][0] == {
        "type": "message",
        "role": "system",
        "content": [{"type": "input_text", "text": "Be brief."}],
    }
    assert "messages" not in body


def test_openai_reasoning_is_replayed_to_openai_only(w: World) -> None:
    w.openai_fake.push(fake_openai.Reply.json(200, _reasoning_answer("Forty-two.")))
    turn1 = w.oa.responses.create(model=MODEL["openai"], input="The answer?")
    [reasoning] = [i for i in turn1.output if i.type == "reasoning"]
    assert reasoning.summary[0].text == "Thinking it over."
    assert reasoning.encrypted_content is not None
    assert reasoning.encrypted_content.endswith("gAAAA-openai-sealed-reasoning")

    w.script("openai", text="Still 42.")
    w.oa.responses.create(model=MODEL["openai"], input="Sure?", previous_response_id=turn1.id)
    replayed = [i for i in w.received("openai")[-1][1]["input"] if i["type"] == "reasoning"]
    assert replayed == [
        {
            "type": "reasoning",
            "id": "rs_upstream1",
            "summary": [{"type": "summary_text", "text": "Thinking it over."}],
            "encrypted_content": "gAAAA-openai-sealed-reasoning",
        }
    ]

    for other in ("anthropic", "gemini"):  # signed for OpenAI: no other provider gets it
        w.script(other, text="Forty-two, yes.")
        got = w.oa.responses.create(
            model=MODEL[other], input="Sure?", previous_response_id=turn1.id
        )
        assert got.output_text == "Forty-two, yes."
        sent = json.dumps(w.received(other)[-1][1])
        assert "openai-sealed" not in sent and "Forty-two." in sent


def test_openai_reasoning_streamed(w: World) -> None:
    answer = _reasoning_answer("Done.")
    head = {**answer, "status": "in_progress", "output": [], "usage": None}
    reasoning, message = answer["output"]
    events = [
        {"type": "response.created", "sequence_number": 0, "response": head},
        {"type": "response.output_item.added", "output_index": 0, "item": {**reasoning}},
        {"type": "response.reasoning_summary_text.delta", "output_index": 0, "delta": "Thinking"},
        {"type": "response.output_item.done", "output_index": 0, "item": reasoning},
        {"type": "response.output_item.added", "output_index": 1, "item": message},
        {"type": "response.output_text.delta", "output_index": 1, "delta": "Done."},
        {"type": "response.output_item.done", "output_index": 1, "item": message},
        {"type": "response.completed", "response": answer},
    ]
    w.openai_fake.push(fake_openai.Reply.stream(events))
    with w.oa.responses.stream(model=MODEL["openai"], input="Go") as stream:
        final = stream.get_final_response()
    assert final.output_text == "Done."
    [item] = [i for i in final.output if i.type == "reasoning"]
    assert item.summary[0].text == "Thinking"
    assert item.encrypted_content is not None
    assert item.encrypted_content.endswith("gAAAA-openai-sealed-reasoning")
    assert w.received("openai")[-1][0] == "/v1/responses"
