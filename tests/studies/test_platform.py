"""The one platform module: parsing a Prolific/MTurk visit, previews, and the id-hash key."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from xai_eval.studies.errors import PlatformKeyError, PlatformParameterError, StudyError
from xai_eval.studies.platform import (
    MTURK_PREVIEW,
    PlatformVisit,
    hash_platform_id,
    parse_visit,
    platform_id_key,
)

ACCEPTED = {"workerId": "W123", "assignmentId": "A456", "hitId": "H1",
            "turkSubmitTo": "https://workersandbox.mturk.com/"}


def test_prolific_visit_keeps_its_three_ids_and_ignores_others():
    visit = parse_visit({"PROLIFIC_PID": "5f1a", "STUDY_ID": "s1", "SESSION_ID": "x9",
                         "utm_source": "mail"})
    assert visit == PlatformVisit("prolific", {"PROLIFIC_PID": "5f1a", "STUDY_ID": "s1",
                                               "SESSION_ID": "x9"})
    assert visit.main_id == "5f1a" and not visit.is_preview and visit.mturk_submit_url is None


def test_accepted_mturk_assignment():
    visit = parse_visit(ACCEPTED)
    assert visit.platform == "mturk" and visit.main_id == "W123" and not visit.is_preview
    assert visit.ids["turkSubmitTo"] == "https://workersandbox.mturk.com"  # trailing / cut
    assert visit.mturk_submit_url == "https://workersandbox.mturk.com/mturk/externalSubmit"


@pytest.mark.parametrize("query", [
    {"assignmentId": MTURK_PREVIEW, "hitId": "H1"},
    # a worker id next to the not-available assignment does not make it an accepted one
    {"assignmentId": MTURK_PREVIEW, "hitId": "H1", "workerId": "W123"},
])
def test_the_preview_is_the_not_available_assignment(query):
    visit = parse_visit(query)
    assert visit.platform == "mturk" and visit.is_preview


def test_an_accepted_assignment_without_worker_is_refused_not_a_preview():
    # the two old parsers disagreed here: one called it a preview, one refused it
    with pytest.raises(PlatformParameterError, match="workerId"):
        parse_visit({"assignmentId": "A456", "hitId": "H1"})


def test_forged_submit_host_is_refused():
    with pytest.raises(PlatformParameterError, match="turkSubmitTo"):
        parse_visit({**ACCEPTED, "turkSubmitTo": "https://evil.example"})


@pytest.mark.parametrize("value", ["<script>", "a b", "x" * 129, "é", 12])
def test_malformed_ids_are_refused_not_truncated(value):
    with pytest.raises(PlatformParameterError) as caught:
        parse_visit({"PROLIFIC_PID": value})
    assert isinstance(caught.value, StudyError) and caught.value.status == 400
    if isinstance(value, str):
        assert value not in str(caught.value)  # never echoed into a page


def test_longest_id_is_kept_whole_and_empty_values_mean_absent():
    assert parse_visit({"PROLIFIC_PID": "p" * 128}).main_id == "p" * 128
    assert parse_visit({"PROLIFIC_PID": "", "workerId": ""}) == PlatformVisit()
    assert parse_visit({}).platform == "direct"


def test_id_key_prefers_id_key_then_derives_from_the_secret():
    assert platform_id_key({"ID_KEY": "k1", "SECRET_KEY": "s"}) == b"k1"
    # the derivation the app has always used (so existing hashes stay valid)
    expected = hashlib.sha256(b"xai-eval-platform-ids:" + b"s").digest()
    assert platform_id_key({"ID_KEY": None, "SECRET_KEY": "s"}) == expected
    assert platform_id_key({"ID_KEY": "", "SECRET_KEY": "s"}) == expected
    with pytest.raises(PlatformKeyError, match="XAI_EVAL_ID_KEY"):
        platform_id_key({"SECRET_KEY": None})


def test_hashes_are_hmac_of_salt_and_id_and_submit_url_stays_plain():
    key = b"server-key"
    oracle = hmac.new(key, b"salt1:W123", hashlib.sha256).hexdigest()
    assert hash_platform_id("W123", "salt1", key) == oracle
    assert hash_platform_id("W123", "salt2", key) != oracle  # per-study salt
    stored = parse_visit(ACCEPTED).stored("salt1", key)
    assert stored["workerId"] == oracle
    assert stored["turkSubmitTo"] == "https://workersandbox.mturk.com"
    assert "W123" not in str(stored) and "A456" not in str(stored)
    assert parse_visit(ACCEPTED).stored("salt1", key, plain=True)["workerId"] == "W123"
