import pytest

from shared.contracts import OPENAPI_OUTPUT, OUTPUT, SERVICES, document, openapi_document


@pytest.mark.parametrize("service", SERVICES)
def test_the_checked_in_asyncapi_document_is_current(service: str) -> None:
    path = OUTPUT / f"{service}.json"
    assert path.exists(), f"{path} missing: run `make docs`"
    assert path.read_text() == document(service), f"{path} is stale: run `make docs`"


@pytest.mark.parametrize("service", SERVICES)
def test_the_checked_in_openapi_document_is_current(service: str) -> None:
    path = OPENAPI_OUTPUT / f"{service}.json"
    assert path.exists(), f"{path} missing: run `make docs`"
    assert path.read_text() == openapi_document(service), f"{path} is stale: run `make docs`"


def test_the_gateway_work_queues_are_documented_with_their_schema() -> None:
    spec = (OUTPUT / "gateway_simulator.json").read_text()
    assert "bin.gateway.sms.urgent" in spec
    assert "delivery.requested.v1" in spec
