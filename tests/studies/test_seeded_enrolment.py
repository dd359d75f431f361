"""A pilot's enrolments are reproducible; a real study's are not predictable."""

from xai_eval.studies import enrolment


def _draws(count: int = 5) -> list[float]:
    return [enrolment._sequence_rng().random() for _ in range(count)]


def test_seeded_enrolment_repeats_the_same_shuffles():
    with enrolment.seeded_enrolment(7):
        first = _draws()
    with enrolment.seeded_enrolment(7):
        second = _draws()
    with enrolment.seeded_enrolment(8):
        other = _draws()
    assert first == second
    assert first != other
    assert len(set(first)) == len(first)  # each participant gets its own stream


def test_outside_a_pilot_enrolment_draws_from_the_os():
    with enrolment.seeded_enrolment(7):
        seeded = _draws()
    assert enrolment._pilot_stream is None  # restored on exit
    assert _draws() != seeded
    assert _draws() != _draws()
