from shared import topology as topo
from shared.events import Visibility


def test_siblings_are_named_from_the_work_queue() -> None:
    t = topo.Topology(prefix="bin", retry_delays=(1, 5))
    assert t.queue_name("dispatch.alerts") == "bin.dispatch.alerts"
    assert t.retry_queue_name("dispatch.alerts", 1) == "bin.dispatch.alerts.retry.1"
    assert t.dead_letter_queue_name("dispatch.alerts") == "bin.dispatch.alerts.dead"


def test_retry_queue_returns_messages_to_the_work_queue_after_its_delay() -> None:
    t = topo.Topology(prefix="bin", retry_delays=(1, 5))
    args = t.retry_queue_arguments("dispatch.alerts", 1)
    assert args["x-message-ttl"] == 5000
    assert args["x-dead-letter-exchange"] == ""
    assert args["x-dead-letter-routing-key"] == "bin.dispatch.alerts"


def test_work_queues_are_quorum_queues_that_dead_letter_poison() -> None:
    args = topo.Topology(prefix="bin").work_queue_arguments("digest.news")
    assert args["x-queue-type"] == "quorum"
    assert args["x-dead-letter-exchange"] == "bin.dead-letter"
    assert args["x-delivery-limit"] > 0
    classic = topo.Topology(prefix="bin", queue_type="classic").work_queue_arguments("x")
    assert classic["x-queue-type"] == "classic"
    assert "x-delivery-limit" not in classic


def test_member_contact_is_only_bound_from_the_private_exchange() -> None:
    for spec in topo.ALL_QUEUES:
        for visibility, key in spec.bindings:
            if key.startswith("member.registered"):
                assert visibility is Visibility.PRIVATE


def test_urgent_and_bulk_gateway_work_travel_on_separate_queues() -> None:
    names = {spec.name for spec in topo.GATEWAY_QUEUES}
    assert {"gateway.sms.urgent", "gateway.sms.bulk"} <= names
    assert len(names) == len(topo.CHANNELS) * len(topo.PRIORITIES)
