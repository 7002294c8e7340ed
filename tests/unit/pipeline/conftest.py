"""A pipeline over a memory store, a real vault and the in-process demo upstream: no sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from keyroute.accounting.pricebook import PriceBook
from keyroute.catalogue import builtin
from keyroute.control.plane import ControlPlane
from keyroute.core.chat import ChatRequest, TextPart
from keyroute.core.record import RequestRecord
from keyroute.pipeline import Meter, Pipeline, RequestContext
from keyroute.pipeline.listing import HostedModels
from keyroute.principals import Principal
from keyroute.routing.resolver import ModelResolver
from keyroute.routing.selection import AutoRouter
from keyroute.signatures import SignatureCache
from keyroute.storage.memory import MemoryStore
from keyroute.tasks import TaskGroup
from keyroute.upstream import UpstreamSender
from keyroute.vault.keystore import KeyVault
from keyroute.vault.masterkey import MasterKeyring, new_master_key
from keyroute.workspace_state import WorkspaceDirectory


@dataclass
class Harness:
    pipeline: Pipeline
    prices: PriceBook
    plane: ControlPlane
    principal: Principal
    records: list[RequestRecord]

    def context(self) -> tuple[RequestContext, Meter]:
        record = RequestRecord(
            request_id="req_1",
            started_at=datetime.now(UTC),
            endpoint="/v1/chat/completions",
            inbound_format="openai",
            workspace_id=self.principal.workspace_id,
        )
        ctx = RequestContext(request_id="req_1", principal=self.principal, record=record)
        sinks = [_Sink(self.records)]
        return ctx, Meter(record, sinks=sinks, pricer=self.prices, started=ctx.started)


class _Sink:
    def __init__(self, records: list[RequestRecord]) -> None:
        self.records = records

    def submit(self, record: RequestRecord) -> None:
        self.records.append(record)


class LengthScorer:
    """A stand-in difficulty scorer with a known answer: the last turn's length / 1000
    (the shipped scorer is exercised end to end in the integration tests)."""

    version = "length-test"

    def score(self, request: ChatRequest) -> float:
        part = request.messages[-1].content[0]
        return len(part.text) / 1000 if isinstance(part, TextPart) else 0.0

    def threshold_for_quality(self, quality: float) -> float:
        return 0.5

    def threshold_for_strong_share(self, share: float) -> float:
        return 1 - share


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    store = MemoryStore()
    vault = KeyVault(store, MasterKeyring.from_env(new_master_key().hex()))
    plane = ControlPlane(store, vault)
    ws = await plane.create_workspace("w")
    await plane.add_provider_key("w", "demo", "")
    directory = WorkspaceDirectory(store, vault)
    resolver = ModelResolver()
    sender = UpstreamSender()
    tasks = TaskGroup()
    prices = PriceBook(builtin(), store)
    pipeline = Pipeline(
        router=AutoRouter(resolver=resolver, catalogue=builtin(), scorer=LengthScorer),
        prices=prices,
        directory=directory,
        resolver=resolver,
        sender=sender,
        signatures=SignatureCache(),
        hosted=HostedModels(directory=directory, resolver=resolver, sender=sender, tasks=tasks),
    )
    principal = Principal(
        workspace_id=ws.id, workspace_name="w", api_key_id="key_1", api_key_name="k"
    )
    try:
        yield Harness(
            pipeline=pipeline, prices=prices, plane=plane, principal=principal, records=[]
        )
    finally:
        await tasks.close()


@pytest.fixture
def ctx_factory() -> object:
    """A fresh ``RequestContext`` for workspace ``ws``."""

    def make() -> RequestContext:
        record = RequestRecord(
            request_id="req_1",
            started_at=datetime.now(UTC),
            endpoint="/v1/chat/completions",
            inbound_format="openai",
        )
        principal = Principal(
            workspace_id="ws", workspace_name="w", api_key_id="k", api_key_name="n"
        )
        return RequestContext(request_id="req_1", principal=principal, record=record)

    return make
