"""Any unparsable request body is 422, never a 500 (issue 8: 5,000 nested arrays used to
raise RecursionError)."""

from __future__ import annotations

import pytest

from xai_eval.web.security import MAX_JSON_DEPTH, _nesting

DEEP = "[" * 5000 + "]" * 5000
BODIES = [DEEP, '{"a":' * 2000 + "1" + "}" * 2000, "{not json", "null", "[]", b"\xff\xfe{}",
          '"just a string"', "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)]


@pytest.mark.parametrize("body", BODIES, ids=range(len(BODIES)))
def test_unparsable_bodies_are_422(participant, body):
    start = participant.post("/api/studies/sample/sessions", data=body,
                             content_type="application/json")
    assert start.status_code == 422, start.get_data(as_text=True)[:200]
    assert participant.start().status_code == 201
    answer = participant.post("/api/sessions/current/answers", data=body,
                              content_type="application/json")
    assert answer.status_code == 422 and answer.get_json()["error"] == "invalid_answer"
    assert "Traceback" not in answer.get_data(as_text=True)


def test_nesting_ignores_brackets_in_strings():
    assert _nesting('{"a": "[[[[[[", "b": [1, [2]]}') == 3
    assert _nesting(r'["\"[[[", []]') == 2


def test_ordinary_bodies_still_parse(participant):
    assert participant.start(PROLIFIC_PID="nested-ok", STUDY_ID="s", SESSION_ID="x").status_code == 201
    trial = participant.trial()
    assert participant.answer(trial["trial_id"], trial["options"][0]["value"]).status_code == 201
