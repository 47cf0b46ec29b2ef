from collections.abc import Iterator

import pytest

from services.dispatch.domain.fanout import batches, text_for
from services.gateway_simulator.behaviour import GatewayBehaviour
from shared.events import DeliveryOutcome, DeliveryWork, Language


def test_batches_cut_at_size_and_keep_the_remainder() -> None:
    assert [len(b) for b in batches(range(1001), 500)] == [500, 500, 1]
    assert list(batches([], 500)) == []


def test_batches_are_lazy_over_a_stream() -> None:
    def endless() -> Iterator[int]:
        n = 0
        while True:
            yield n
            n += 1

    first = next(batches(endless(), 3))
    assert first == [0, 1, 2]


def test_batch_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        next(batches([1], 0))


def test_member_gets_own_language_else_preference_else_first() -> None:
    texts = {Language.NL: "Let op", Language.FR: "Attention"}
    assert text_for(texts, Language.FR) == (Language.FR, "Attention")
    assert text_for(texts, Language.DE, [Language.FR]) == (Language.FR, "Attention")
    assert text_for({Language.NL: "Let op"}, Language.DE) == (Language.NL, "Let op")


def test_simulated_gateway_failure_rates_and_dedupe() -> None:
    import uuid

    behaviour = GatewayBehaviour(temporary_failure_rate=0.2, permanent_failure_rate=0.1, seed=7)
    work = [
        DeliveryWork(delivery_id=uuid.uuid4(), address="+32470000000", language="nl", text="x")
        for _ in range(5000)
    ]
    outcomes = [r.outcome for r in behaviour.send(work)]
    share = {o: outcomes.count(o) / len(outcomes) for o in DeliveryOutcome}
    assert share[DeliveryOutcome.PERMANENT_FAILURE] == pytest.approx(0.1, abs=0.02)
    assert share[DeliveryOutcome.TEMPORARY_FAILURE] == pytest.approx(0.2, abs=0.02)
    # Finished deliveries offered again are duplicates; temporarily failed ones are retries.
    finished = sum(o is not DeliveryOutcome.TEMPORARY_FAILURE for o in outcomes[:100])
    behaviour.send(work[:100])
    assert behaviour.duplicates == finished


def test_simulated_transient_faults_clear_and_failing_channels_always_fail() -> None:
    import uuid

    behaviour = GatewayBehaviour(
        temporary_failure_rate=1.0,
        permanent_failure_rate=0.0,
        seed=1,
        max_temporary_failures=2,
        failing_channels=["voice"],
    )
    item = DeliveryWork(delivery_id=uuid.uuid4(), address="+32470000000", language="nl", text="x")
    outcomes = [behaviour.send([item])[0].outcome for _ in range(3)]
    assert outcomes == [
        DeliveryOutcome.TEMPORARY_FAILURE,
        DeliveryOutcome.TEMPORARY_FAILURE,
        DeliveryOutcome.DELIVERED,
    ]
    other = item.model_copy(update={"delivery_id": uuid.uuid4()})
    assert behaviour.send([other], "voice")[0].outcome is DeliveryOutcome.PERMANENT_FAILURE


def test_each_member_gets_their_own_preferences_link_in_a_digest() -> None:
    import uuid

    from services.dispatch.domain.content import Content

    content = Content(
        texts={Language.NL: "Nieuws. Voorkeuren: {preferences_url}"},
        subjects={Language.NL: "Politienieuws"},
        html={Language.NL: '<a href="{preferences_url}">voorkeuren</a>'},
    )
    work = DeliveryWork.model_validate(
        content.work(uuid.uuid4(), "an@example.be", Language.FR, "https://bin.example/p/tok")
    )
    assert work.language is Language.NL  # the only language the digest has
    assert work.text == "Nieuws. Voorkeuren: https://bin.example/p/tok"
    assert work.html == '<a href="https://bin.example/p/tok">voorkeuren</a>'
    assert work.subject == "Politienieuws"


def test_the_fast_wire_form_of_gateway_work_is_what_the_model_would_write() -> None:
    import uuid

    import orjson

    from services.dispatch.domain.content import Content

    content = Content(texts={Language.NL: "Let op", Language.FR: "Attention"})
    delivery_id = uuid.uuid4()
    fast = content.work(delivery_id, "+32470123456", Language.FR)
    model = DeliveryWork(
        delivery_id=delivery_id, address="+32470123456", language=Language.FR, text="Attention"
    )
    assert orjson.loads(orjson.dumps(fast)) == orjson.loads(model.model_dump_json())
